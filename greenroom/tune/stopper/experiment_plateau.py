"""``ExperimentPlateauStopper``: stops the experiment when its best results stopped changing."""

from __future__ import annotations

import numbers
import statistics
from typing import Any

from greenroom.tune.experiment.trial import lookup
from greenroom.tune.stopper.stopper import Stopper

_MISSING = object()


class ExperimentPlateauStopper(Stopper):
    """Stops the experiment when the ``top`` best values of ``metric`` (over all trials) plateau.

    Args:
        metric: result key to watch (nested keys with '/').
        std: population standard deviation of the top values under which they have plateaued.
        top: how many best values to keep (> 1).
        mode: "min" or "max".
        patience: how many more plateaued results to wait before stopping.
    Raises:
        ValueError: on an argument out of range.
    """

    def __init__(self, metric: str, std: float = 0.001, top: int = 10, mode: str = "min", patience: int = 0):
        if mode not in ("min", "max"):
            raise ValueError(f"`mode` must be 'min' or 'max', got {mode!r}.")
        if not isinstance(top, int) or top <= 1:
            raise ValueError(f"`top` must be an integer > 1, got {top!r}.")
        if not isinstance(patience, int) or patience < 0:
            raise ValueError(f"`patience` must be an integer >= 0, got {patience!r}.")
        if not isinstance(std, numbers.Real) or isinstance(std, bool) or std <= 0:
            raise ValueError(f"`std` must be a number > 0, got {std!r}.")
        self._metric = metric
        self._std = std
        self._top = top
        self._mode = mode
        self._patience = patience
        self._iterations = 0
        self._top_values: list[float] = []

    def __call__(self, trial_id: str, result: dict[str, Any]) -> bool:
        value = lookup(result, self._metric, _MISSING)
        if value is _MISSING:
            raise ValueError(
                f"ExperimentPlateauStopper: trial {trial_id!r} reported no {self._metric!r} "
                f"(keys: {sorted(result)}). Report it with every result, or watch another metric."
            )
        ordered = sorted([*self._top_values, value])
        self._top_values = ordered[: self._top] if self._mode == "min" else ordered[-self._top :]
        self._iterations = self._iterations + 1 if self.has_plateaued() else 0
        return self.stop_all()

    def has_plateaued(self) -> bool:
        """Whether ``top`` values are in and their std is at most ``std``."""
        return len(self._top_values) == self._top and statistics.pstdev(self._top_values) <= self._std

    def stop_all(self) -> bool:
        return self.has_plateaued() and self._iterations >= self._patience
