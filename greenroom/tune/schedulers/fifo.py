"""``FIFOScheduler`` under its own module name; Ray's path is ``trial_scheduler``, defined there."""

from greenroom.tune.schedulers.trial_scheduler import FIFOScheduler

__all__ = ["FIFOScheduler"]
