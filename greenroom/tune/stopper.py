"""Stoppers, at Ray's ``ray.tune.stopper`` path: pure predicates over results.

The trial runner calls ``stopper(trial_id, result)`` on every result (True:
stop that trial) and ``stopper.stop_all()`` after it (True: stop the whole
experiment). ``RunConfig(stop=...)`` may also be a dict (see ``dict_stopper``)
or a function ``(trial_id, result) -> bool`` (see ``FunctionStopper``).
"""

from __future__ import annotations

import collections
import datetime
import numbers
import statistics
import time
from collections.abc import Callable
from typing import Any

from greenroom.tune.experiment.trial import lookup

_MISSING = object()

__all__ = [
    "CombinedStopper",
    "ExperimentPlateauStopper",
    "FunctionStopper",
    "MaximumIterationStopper",
    "NoopStopper",
    "Stopper",
    "TimeoutStopper",
    "TrialPlateauStopper",
    "dict_stopper",
]


class Stopper:
    """Base class: decides from results when to stop a trial or the whole experiment."""

    def __call__(self, trial_id: str, result: dict[str, Any]) -> bool:
        """True to stop trial ``trial_id`` after this result."""
        raise NotImplementedError(f"{type(self).__name__} must implement __call__(trial_id, result).")

    def stop_all(self) -> bool:
        """True to stop every trial of the experiment."""
        raise NotImplementedError(f"{type(self).__name__} must implement stop_all().")


class NoopStopper(Stopper):
    """Never stops anything (the default when ``stop`` is not given)."""

    def __call__(self, trial_id: str, result: dict[str, Any]) -> bool:
        return False

    def stop_all(self) -> bool:
        return False


class CombinedStopper(Stopper):
    """Stops a trial (or everything) when any of ``stoppers`` says so, asked in order."""

    def __init__(self, *stoppers: Stopper):
        self._stoppers = stoppers

    def __call__(self, trial_id: str, result: dict[str, Any]) -> bool:
        return any(s(trial_id, result) for s in self._stoppers)

    def stop_all(self) -> bool:
        return any(s.stop_all() for s in self._stoppers)


class FunctionStopper(Stopper):
    """Wraps ``function(trial_id, result) -> bool``; never stops the whole experiment."""

    def __init__(self, function: Callable[[str, dict], bool]):
        if not callable(function):
            raise TypeError(f"FunctionStopper needs a function (trial_id, result) -> bool, got {function!r}.")
        self._fn = function

    def __call__(self, trial_id: str, result: dict[str, Any]) -> bool:
        return bool(self._fn(trial_id, result))

    def stop_all(self) -> bool:
        return False

    @classmethod
    def is_valid_function(cls, fn: Any) -> bool:
        """Whether ``fn`` is a plain function to wrap (not a Stopper).

        Raises:
            ValueError: for a callable with ``stop_all`` that is not a Stopper subclass.
        """
        is_function = callable(fn) and not isinstance(fn, Stopper)
        if is_function and hasattr(fn, "stop_all"):
            raise ValueError(
                f"{fn!r} has stop_all() but is not a tune.Stopper: "
                "subclass tune.Stopper so it is used as one."
            )
        return is_function


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


def _flatten(criteria: dict, prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in criteria.items():
        if isinstance(value, dict):
            flat.update(_flatten(value, f"{prefix}{key}/"))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def _result_keys(result: dict, prefix: str = "") -> list[str]:
    keys: list[str] = []
    for key, value in result.items():
        keys += _result_keys(value, f"{prefix}{key}/") if isinstance(value, dict) else [f"{prefix}{key}"]
    return keys


class _DictStopper(Stopper):
    """Ray's ``stop={...}``: stop a trial once any ``result[key] >= value``."""

    def __init__(self, criteria: dict):
        self._criteria = _flatten(criteria)

    def __call__(self, trial_id: str, result: dict[str, Any]) -> bool:
        stop = False
        for key, threshold in self._criteria.items():
            value = lookup(result, key, _MISSING)
            if value is _MISSING:
                raise ValueError(
                    f"Stopping criterion {key!r} is not in the result of trial {trial_id!r}; "
                    f"it reported {sorted(_result_keys(result))}. Report {key!r} from the trainable, "
                    "or fix the key in RunConfig(stop=...) (nested keys as 'a/b')."
                )
            stop = stop or value >= threshold
        return stop

    def stop_all(self) -> bool:
        return False

    def __repr__(self) -> str:
        return f"dict_stopper({self._criteria!r})"


def dict_stopper(criteria: dict) -> Stopper:
    """A Stopper for Ray's dict form of ``stop``: stop when any ``result[key] >= value``.

    Keys may be nested as ``"a/b"`` (or as nested dicts).

    Raises:
        ValueError: when called with a result that lacks one of the keys.
    """
    if not isinstance(criteria, dict):
        raise TypeError(f"dict_stopper needs a dict of result key -> threshold, got {criteria!r}.")
    return _DictStopper(criteria)
