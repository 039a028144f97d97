"""``FunctionStopper``: a function ``(trial_id, result) -> bool`` as a Stopper."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from greenroom.tune.stopper.stopper import Stopper


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
