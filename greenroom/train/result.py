"""``Result``: what a trainer's ``fit()`` returns, as Ray Train's."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

from greenroom.train._internal.storage import read_results, read_state
from greenroom.tune.checkpoint import Checkpoint
from greenroom.tune.experiment.trial import lookup


@dataclass
class Result:
    """A finished training run.

    Attributes:
        metrics: rank 0's last ``train.report()`` metrics.
        checkpoint: the latest committed checkpoint, or None.
        error: the error the run ended with, or None (``fit()`` raises it instead).
        path: the run's directory (``<storage_path>/<name>``).
        best_checkpoints: the kept checkpoints, oldest first, each with the metrics reported with it.
    """

    metrics: dict | None
    checkpoint: Checkpoint | None
    error: BaseException | None = None
    path: str | None = None
    best_checkpoints: list[tuple[Checkpoint, dict]] = field(default_factory=list)
    config: dict | None = None

    @property
    def metrics_dataframe(self) -> Any:
        """Every report of rank 0, one row each (pandas)."""
        import pandas as pd

        from greenroom.tune.storage import flatten

        return pd.DataFrame([flatten(r) for r in read_results(self.path)] if self.path else [])

    def get_best_checkpoint(self, metric: str, mode: str) -> Checkpoint | None:
        """The kept checkpoint whose metrics are best by ``metric`` (``mode`` "min" or "max")."""
        if mode not in ("min", "max"):
            raise ValueError(f"mode={mode!r}: expected 'min' or 'max'")
        scored = [(c, lookup(m, metric)) for c, m in self.best_checkpoints]
        scored = [(c, v) for c, v in scored if isinstance(v, (int, float))]
        if not scored:
            return None
        pick = min if mode == "min" else max
        return pick(scored, key=lambda cv: cv[1])[0]

    @classmethod
    def from_path(cls, path: str | os.PathLike) -> Result:
        """Read a finished ``fit()``'s run directory back."""
        path = os.fspath(path)
        rows = read_results(path)
        if not rows and not os.path.isdir(path):
            raise FileNotFoundError(
                f"no training run at {path!r}: pass the directory fit() wrote (Result.path)"
            )
        state = read_state(path) or {}
        kept = [(Checkpoint(os.path.join(path, name)), m) for name, m in state.get("checkpoints", [])]
        return cls(
            metrics=rows[-1] if rows else None,
            checkpoint=kept[-1][0] if kept else None,
            path=path,
            best_checkpoints=kept,
        )

    def __repr__(self) -> str:
        return (
            f"Result(metrics={self.metrics!r:.200}, checkpoint={self.checkpoint!r}, error={self.error!r}, "
            f"path={self.path!r})"
        )
