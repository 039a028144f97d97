"""Inside a trial: ``report``, ``get_checkpoint``, ``get_context``.

The trial's actor process sets one ``TrialSession``; these functions talk to it.
Outside a trial they raise a clear error instead of doing nothing.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from typing import Any

from greenroom.tune.checkpoint import Checkpoint

_session: TrialSession | None = None


@dataclass
class TrialInfo:
    trial_id: str
    trial_name: str
    trial_dir: str
    experiment_name: str
    resources: Any  # PlacementGroupFactory


class TrialSession:
    """What the trainable in this process reports to; set by the trial actor."""

    def __init__(self, info: TrialInfo, restore: Checkpoint | None, checkpoint_index: int = 0) -> None:
        self.info = info
        self.restore = restore
        self.checkpoint_index = checkpoint_index
        self.sink: Any = None  # FunctionTrainable sets where reports go

    def next_checkpoint_dir(self) -> str:
        """Where the next reported checkpoint goes. One written there already is not copied."""
        return os.path.join(self.info.trial_dir, f"checkpoint_{self.checkpoint_index:06d}")

    def persist(self, checkpoint: Checkpoint) -> Checkpoint:
        """Copy a reported checkpoint into the trial's directory (it may be a temp dir)."""
        target = self.next_checkpoint_dir()
        self.checkpoint_index += 1
        if os.path.abspath(checkpoint.path) != os.path.abspath(target):
            shutil.copytree(checkpoint.path, target, dirs_exist_ok=True)
        return Checkpoint(target)


def set_session(session: TrialSession | None) -> None:
    global _session
    _session = session


def current_session() -> TrialSession | None:
    """This process's trial session (inside a trial's actor), else None."""
    return _session


def _current(what: str) -> TrialSession:
    if _session is None:
        raise RuntimeError(
            f"tune.{what}() was called outside a trial; call it inside the trainable "
            "that tune.run() or Tuner.fit() runs"
        )
    return _session


def report(metrics: dict | None = None, *, checkpoint: Checkpoint | None = None, **kwargs: Any) -> None:
    """Report metrics (and optionally a checkpoint) from a function trainable.

    ``report({"loss": x})``, ``report(loss=x)`` and ``report(metrics, checkpoint=...)``.
    Each call is one training iteration; the trial may be stopped here.
    """
    session = _current("report")
    if metrics is not None and not isinstance(metrics, dict):
        raise TypeError(f"tune.report() expects a dict of metrics, got {metrics!r:.100}")
    merged = {**(metrics or {}), **kwargs}
    if checkpoint is not None and not isinstance(checkpoint, Checkpoint):
        raise TypeError(f"checkpoint={checkpoint!r}: expected a tune.Checkpoint")
    if session.sink is None:
        raise RuntimeError("tune.report() is for function trainables; a Trainable class returns results from step()")
    session.sink(merged, session.persist(checkpoint) if checkpoint is not None else None)


def get_checkpoint() -> Checkpoint | None:
    """The checkpoint to resume from (after a failure, a pause or a PBT exploit), else None."""
    return _current("get_checkpoint").restore


@dataclass(frozen=True)
class TrialStorage:
    """Where the trial writes (Ray's ``StorageContext``, local paths only)."""

    storage_path: str
    experiment_dir_name: str
    trial_dir_name: str

    @property
    def experiment_fs_path(self) -> str:
        return os.path.join(self.storage_path, self.experiment_dir_name)

    @property
    def trial_fs_path(self) -> str:
        return os.path.join(self.experiment_fs_path, self.trial_dir_name)

    trial_working_directory = trial_fs_path


class TuneContext:
    """Ray's ``tune.get_context()``: who this trial is, what it holds and where it writes.

    A trial is one process: its world size is 1 and every rank is 0.
    """

    def __init__(self, info: TrialInfo) -> None:
        self._info = info

    def get_trial_id(self) -> str:
        """The trial's id, e.g. ``"3f2a1_00007"``."""
        return self._info.trial_id

    def get_trial_name(self) -> str:
        """The trial's name (``trial_name_creator``'s, or ``<trainable>_<id>``)."""
        return self._info.trial_name

    def get_trial_dir(self) -> str:
        """The trial's directory, where its results and checkpoints go."""
        return self._info.trial_dir

    def get_experiment_name(self) -> str:
        """The name of the experiment the trial belongs to."""
        return self._info.experiment_name

    def get_trial_resources(self) -> Any:
        """What the trial holds now, a ``tune.PlacementGroupFactory`` (a
        ``ResourceChangingScheduler`` may have changed it since the trial began)."""
        return self._info.resources

    def get_storage(self) -> TrialStorage:
        """The experiment's and the trial's paths."""
        trial_dir = os.path.normpath(self._info.trial_dir)
        experiment_dir = os.path.dirname(trial_dir)
        return TrialStorage(os.path.dirname(experiment_dir), os.path.basename(experiment_dir), os.path.basename(trial_dir))

    def get_metadata(self) -> dict:
        """User metadata of the run; Tune sets none."""
        return {}

    def get_world_rank(self) -> int:
        return 0

    def get_world_size(self) -> int:
        return 1

    def get_local_rank(self) -> int:
        return 0

    def get_local_world_size(self) -> int:
        return 1

    def get_node_rank(self) -> int:
        return 0


def get_context() -> TuneContext:
    """The current trial's context (id, name, directory, resources)."""
    return TuneContext(_current("get_context").info)
