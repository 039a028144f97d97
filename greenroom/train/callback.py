"""``UserCallback``: hooks a training run calls in its coordinator, as Ray Train V2's.

Pass callbacks in ``RunConfig(callbacks=[...])``. They run in the process that
called ``fit()`` (a Tune trial's, for ``TuneReportCallback``), after each
complete report and after a failed attempt. An exception from a callback
fails the run.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from greenroom.tune.checkpoint import Checkpoint


@dataclass(frozen=True)
class TrainRunContext:
    """What a callback learns of the run: its configs, name and directory."""

    run_config: Any
    train_loop_config: dict | None
    scaling_config: Any
    name: str
    path: str


class UserCallback:
    """Subclass and override ``after_report`` and/or ``after_exception``."""

    def after_report(
        self, run_context: TrainRunContext, metrics: list[dict], checkpoint: Checkpoint | None
    ) -> None:
        """Every rank reported: ``metrics[r]`` is rank r's; ``checkpoint`` the committed one, if any."""

    def after_exception(
        self, run_context: TrainRunContext, worker_exceptions: dict[int, BaseException]
    ) -> None:
        """An attempt failed: the failing ranks' errors (a dead worker's names its signal)."""
