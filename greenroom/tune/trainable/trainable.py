"""``tune.Trainable``: the class API (setup, step, save_checkpoint, load_checkpoint, cleanup).

``train()`` runs one ``step()`` and adds Ray's bookkeeping fields to its result.
"""

from __future__ import annotations

import os
import pickle
import socket
import time
from typing import Any

from greenroom.tune.checkpoint import Checkpoint
from greenroom.tune.trainable.session import TrialInfo


class Trainable:
    """Subclass and override ``setup``, ``step``, ``save_checkpoint``, ``load_checkpoint``, ``cleanup``."""

    def __init__(self, config: dict | None = None, *, _trial_info: TrialInfo | None = None) -> None:
        self.config = dict(config or {})
        self._info = _trial_info
        self._iteration = 0
        self._iterations_since_restore = 0
        self._time_total = 0.0
        self._time_since_restore = 0.0
        self._start = time.time()
        self.setup(self.config)

    # -- to override ---------------------------------------------------------------------
    def setup(self, config: dict) -> None:
        """Called once with the trial's config."""

    def step(self) -> dict:
        """One iteration; return a dict of metrics (``"done": True`` ends the trial)."""
        raise NotImplementedError(f"{type(self).__name__} must implement step()")

    def save_checkpoint(self, checkpoint_dir: str) -> dict | None:
        """Write state into ``checkpoint_dir`` (or return a dict to be saved for you)."""
        return None

    def load_checkpoint(self, checkpoint: dict | str) -> None:
        """Restore state from what ``save_checkpoint`` wrote (the dict, or the directory)."""

    def cleanup(self) -> None:
        """Called when the trial stops."""

    def reset_config(self, new_config: dict) -> bool:
        return False

    @classmethod
    def default_resource_request(cls, config: dict) -> Any:
        """What a trial of this class holds for ``config``: a ``tune.PlacementGroupFactory``
        or a dict like ``{"cpu": 2}``. None (the default) leaves it to ``resources_per_trial``."""
        return None

    # -- run by the trial actor ---------------------------------------------------------------
    @property
    def iteration(self) -> int:
        return self._iteration

    @property
    def training_iteration(self) -> int:
        return self._iteration

    @property
    def trial_id(self) -> str:
        return self._info.trial_id if self._info else "default"

    @property
    def trial_name(self) -> str:
        return self._info.trial_name if self._info else "default"

    @property
    def logdir(self) -> str:
        return self._info.trial_dir if self._info else os.getcwd()

    @property
    def trial_resources(self) -> Any:
        """What the trial holds now, a ``tune.PlacementGroupFactory`` (None outside a trial)."""
        return self._info.resources if self._info else None

    def train(self) -> dict:
        """Run one step and return its result with Ray's fields added."""
        start = time.time()
        result = self.step()
        if not isinstance(result, dict):
            raise TypeError(f"{type(self).__name__}.step() must return a dict of metrics, got {result!r:.100}")
        return self._augment(dict(result), time.time() - start)

    def _augment(self, result: dict, elapsed: float) -> dict:
        self._iteration += 1
        self._iterations_since_restore += 1
        self._time_total += elapsed
        self._time_since_restore += elapsed
        result.setdefault("done", False)
        result.update(
            training_iteration=self._iteration,
            trial_id=self.trial_id,
            time_this_iter_s=elapsed,
            time_total_s=self._time_total,
            time_since_restore=self._time_since_restore,
            iterations_since_restore=self._iterations_since_restore,
            timestamp=int(time.time()),
            pid=os.getpid(),
            hostname=socket.gethostname(),
        )
        return result

    def save(self, checkpoint_dir: str) -> Checkpoint:
        os.makedirs(checkpoint_dir, exist_ok=True)
        state = self.save_checkpoint(checkpoint_dir)
        with open(os.path.join(checkpoint_dir, ".tune_state.pkl"), "wb") as f:
            pickle.dump({"iteration": self._iteration, "time_total": self._time_total, "dict": state}, f)
        return Checkpoint(checkpoint_dir)

    def restore(self, checkpoint: Checkpoint) -> None:
        meta_path = os.path.join(checkpoint.path, ".tune_state.pkl")
        state: Any = checkpoint.path
        if os.path.exists(meta_path):
            with open(meta_path, "rb") as f:
                meta = pickle.load(f)
            self._iteration = meta["iteration"]
            self._time_total = meta["time_total"]
            if meta["dict"] is not None:
                state = meta["dict"]
        self._iterations_since_restore = 0
        self._time_since_restore = 0.0
        self.load_checkpoint(state)

    def stop(self) -> None:
        self.cleanup()
