"""The actor a trial runs in: it holds the trial's resources and hosts its trainable."""

from __future__ import annotations

import os
from typing import Any

from greenroom.tune.checkpoint import Checkpoint
from greenroom.tune.trainable.function_trainable import FunctionError, FunctionTrainable
from greenroom.tune.trainable.session import TrialInfo, TrialSession, set_session
from greenroom.tune.trainable.trainable import Trainable


class TrialActor:
    """Created with ``remote(...)`` by the runner, one per trial (per restart)."""

    def __init__(self, trainable: Any, config: dict, info: TrialInfo, restore: str | None,
                 checkpoint_index: int, progress: tuple[int, float] = (0, 0.0)) -> None:  # fmt: skip
        # The trainable's own tasks and actors run in the trial's bundles: the runner places
        # this actor with placement_group_capture_child_tasks=True.
        os.makedirs(info.trial_dir, exist_ok=True)
        checkpoint = Checkpoint(restore) if restore else None
        session = TrialSession(info, checkpoint, checkpoint_index)
        set_session(session)
        self.session = session
        if isinstance(trainable, type) and issubclass(trainable, Trainable):
            self.trainable: Trainable = trainable(config, _trial_info=info)
            if checkpoint is not None:
                self.trainable.restore(checkpoint)
        else:
            self.trainable = FunctionTrainable(trainable, config, session)
            # Ray counts on from the checkpoint: iterations and time continue after a restore.
            self.trainable._iteration, self.trainable._time_total = progress

    def train(self) -> dict:
        try:
            return self.trainable.train()
        except FunctionError as e:
            # The trainable's own exception, its traceback from the function's thread included,
            # so that get() raises it as its type (fail_fast="raise", Result.error).
            if isinstance(e.cause, Exception):
                raise e.cause from None
            raise TrialFailed(e.text) from None

    def save(self) -> str:
        session = self.session
        path = os.path.join(session.info.trial_dir, f"checkpoint_{session.checkpoint_index:06d}")
        session.checkpoint_index += 1
        return self.trainable.save(path).path

    def stop(self) -> None:
        self.trainable.stop()


class TrialFailed(Exception):
    """The trainable raised something that is not an Exception (SystemExit, ...); the message is its traceback."""
