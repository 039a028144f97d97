"""``TuneReportCallback``: a trainer inside a Tune trial reports to the trial (Ray Train V2's pattern).

A Tune function trainable builds a trainer and calls ``fit()``; with this
callback in the trainer's ``RunConfig(callbacks=[...])``, every complete report
(rank 0's metrics, as in Ray) becomes a ``tune.report`` of the trial, so
schedulers, searchers and the ResultGrid see it. A checkpoint comes along:
its path as the ``checkpoint_path`` metric (as Ray's), and the checkpoint
itself, so the trial's Result, PBT and trial retries have it too.

The callback runs in the trial's process, where ``fit()`` coordinates the
trainer. Outside a Tune trial there is no trial to report to: it warns once
and does nothing, as Ray does.
"""

from __future__ import annotations

import warnings
from typing import Any

from greenroom.train.callback import UserCallback
from greenroom.tune.trainable.session import current_session, report

CHECKPOINT_PATH_KEY = "checkpoint_path"


class TuneReportCallback(UserCallback):
    """Forward a trainer's reports and checkpoints to the Tune trial that runs ``fit()``."""

    _forwards_to_tune = True  # a Tuner(trainer) trial reports itself: the run skips this callback there

    def __init__(self) -> None:
        self._warned = False

    def after_report(self, run_context: Any, metrics: list[dict], checkpoint: Any) -> None:
        if current_session() is None:
            if not self._warned:
                self._warned = True
                warnings.warn(
                    "TuneReportCallback: this trainer's fit() does not run inside a Tune trial, so its "
                    "reports go nowhere but the trainer's own Result",
                    stacklevel=2,
                )
            return
        result = dict(metrics[0])
        if checkpoint is not None:
            result[CHECKPOINT_PATH_KEY] = checkpoint.path
        report(result, checkpoint=checkpoint)
