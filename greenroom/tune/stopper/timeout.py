"""``TimeoutStopper``: stops the experiment after a time budget."""

from __future__ import annotations

import datetime
import numbers
import time
from collections.abc import Callable
from typing import Any

from greenroom.tune.stopper.stopper import Stopper


class TimeoutStopper(Stopper):
    """Stops the experiment once ``timeout`` has passed, counted from the first ``stop_all()``.

    Args:
        timeout: seconds, or a ``datetime.timedelta``.
        clock: a monotonic clock in seconds (tests pass a fake one).
    Raises:
        ValueError: if ``timeout`` is neither a number nor a timedelta.
    """

    def __init__(self, timeout: float | datetime.timedelta, *, clock: Callable[[], float] = time.monotonic):
        if isinstance(timeout, datetime.timedelta):
            seconds = timeout.total_seconds()
        elif isinstance(timeout, numbers.Real) and not isinstance(timeout, bool):
            seconds = float(timeout)
        else:
            raise ValueError(
                "`timeout` must be a number of seconds or a datetime.timedelta, "
                f"got {type(timeout).__name__}."
            )
        self._clock = clock
        self._budget = seconds
        # Setup time before the first check does not count, as in Ray.
        self._last_check: float | None = None

    def __call__(self, trial_id: str, result: dict[str, Any]) -> bool:
        return False

    def stop_all(self) -> bool:
        now = self._clock()
        if self._last_check is not None:
            self._budget -= now - self._last_check
        self._last_check = now
        return self._budget <= 0
