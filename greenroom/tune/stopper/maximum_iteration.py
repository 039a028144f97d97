"""``MaximumIterationStopper``: stops each trial after a number of results."""

from __future__ import annotations

import collections
from typing import Any

from greenroom.tune.stopper.stopper import Stopper


class MaximumIterationStopper(Stopper):
    """Stops each trial after ``max_iter`` results."""

    def __init__(self, max_iter: int):
        if max_iter < 1:
            raise ValueError(f"`max_iter` must be >= 1, got {max_iter!r}.")
        self._max_iter = max_iter
        self._iter: collections.Counter[str] = collections.Counter()

    def __call__(self, trial_id: str, result: dict[str, Any]) -> bool:
        self._iter[trial_id] += 1
        return self._iter[trial_id] >= self._max_iter

    def stop_all(self) -> bool:
        return False
