"""``Stopper``, the base class, and ``CombinedStopper``."""

from __future__ import annotations

from typing import Any


class Stopper:
    """Base class: decides from results when to stop a trial or the whole experiment."""

    def __call__(self, trial_id: str, result: dict[str, Any]) -> bool:
        """True to stop trial ``trial_id`` after this result."""
        raise NotImplementedError(f"{type(self).__name__} must implement __call__(trial_id, result).")

    def stop_all(self) -> bool:
        """True to stop every trial of the experiment."""
        raise NotImplementedError(f"{type(self).__name__} must implement stop_all().")


class CombinedStopper(Stopper):
    """Stops a trial (or everything) when any of ``stoppers`` says so, asked in order."""

    def __init__(self, *stoppers: Stopper):
        self._stoppers = stoppers

    def __call__(self, trial_id: str, result: dict[str, Any]) -> bool:
        return any(s(trial_id, result) for s in self._stoppers)

    def stop_all(self) -> bool:
        return any(s.stop_all() for s in self._stoppers)
