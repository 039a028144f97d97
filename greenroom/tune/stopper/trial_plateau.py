"""``TrialPlateauStopper``: stops a trial whose metric stopped changing."""

from __future__ import annotations

import collections
import statistics
from typing import Any

from greenroom.tune.experiment.trial import lookup
from greenroom.tune.stopper.stopper import Stopper


class TrialPlateauStopper(Stopper):
    """Stops a trial whose last ``num_results`` values of ``metric`` have a std below ``std``.

    Args:
        metric: result key to watch (nested keys with '/').
        std: population standard deviation under which the metric has plateaued.
        num_results: how many recent results to look at.
        grace_period: never stop before this many results.
        metric_threshold: stop only once the metric is at least this good.
        mode: "min" or "max"; required with ``metric_threshold``.
    Raises:
        ValueError: for ``metric_threshold`` without a valid ``mode``.
    """

    def __init__(
        self,
        metric: str,
        std: float = 0.01,
        num_results: int = 4,
        grace_period: int = 4,
        metric_threshold: float | None = None,
        mode: str | None = None,
    ):
        if metric_threshold is not None and mode not in ("min", "max"):
            raise ValueError(f"With a `metric_threshold`, `mode` must be 'min' or 'max', got {mode!r}.")
        if num_results < 1:
            raise ValueError(f"`num_results` must be >= 1, got {num_results!r}.")
        self._metric = metric
        self._std = std
        self._num_results = num_results
        self._grace_period = grace_period
        self._metric_threshold = metric_threshold
        self._mode = mode
        self._iter: collections.Counter[str] = collections.Counter()
        self._trial_results: dict[str, collections.deque] = collections.defaultdict(
            lambda: collections.deque(maxlen=self._num_results)
        )

    def __call__(self, trial_id: str, result: dict[str, Any]) -> bool:
        value = lookup(result, self._metric)
        self._trial_results[trial_id].append(value)
        self._iter[trial_id] += 1
        if self._iter[trial_id] < self._grace_period:
            return False
        if len(self._trial_results[trial_id]) < self._num_results:
            return False
        if self._metric_threshold is not None and value is not None:
            if (self._mode == "min" and value > self._metric_threshold) or (
                self._mode == "max" and value < self._metric_threshold
            ):
                return False
        try:
            current_std = statistics.pstdev(self._trial_results[trial_id])
        except (TypeError, ValueError):  # a missing or non-numeric value
            current_std = float("inf")
        return current_std < self._std

    def stop_all(self) -> bool:
        return False
