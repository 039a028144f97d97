"""``TrainingFailedError``, at Ray's ``ray.train.base_trainer`` path (and ``greenroom.train``'s)."""

from __future__ import annotations


class TrainingFailedError(RuntimeError):
    """A training run failed for good: a worker raised or died, on every attempt that
    ``FailureConfig(max_failures)`` allowed, or its ranks reported unequal numbers of times.

    The message names the failing rank, its pid and the error (a worker's traceback, or
    the signal or exit code its process ended with); ``__cause__`` is the worker's
    exception when it could travel. Raise ``max_failures`` to retry from the last checkpoint.
    """
