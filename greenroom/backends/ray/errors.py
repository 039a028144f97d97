"""Ray's exceptions as greenroom's, with Ray's message inside.

``translate(ray_error)`` is what greenroom raises instead: a task's error is a
greenroom ``RayTaskError`` that is also the original type (``except ValueError``
works), a nested one is the innermost original type, as on greenroom's own node;
Ray's system errors map to greenroom's of the same name. The Ray exception stays
chained as ``__cause__``.
"""

from __future__ import annotations

import re

from ray import exceptions as rx

from greenroom import exceptions as gx

# Most specific first: the first class the error is an instance of decides.
_SAME_NAME = [
    (rx.GetTimeoutError, gx.GetTimeoutError),
    (rx.TaskCancelledError, gx.TaskCancelledError),
    (rx.ActorUnavailableError, gx.ActorUnavailableError),
    (rx.ActorDiedError, gx.ActorDiedError),
    (rx.RayActorError, gx.RayActorError),
    (rx.WorkerCrashedError, gx.WorkerCrashedError),
    (rx.OwnerDiedError, gx.OwnerDiedError),
    (rx.ObjectFreedError, gx.ObjectFreedError),
    (rx.ObjectFetchTimedOutError, gx.ObjectFetchTimedOutError),
    (rx.ObjectLostError, gx.ObjectLostError),
    (rx.ObjectStoreFullError, gx.ObjectStoreFullError),
    (rx.NodeDiedError, gx.NodeDiedError),
    (rx.PendingCallsLimitExceeded, gx.PendingCallsLimitExceeded),
    (rx.RaySystemError, gx.RaySystemError),
    (rx.RayError, gx.RayError),
]


_USER_EXIT = "User requested to exit the actor"


def translate(error: BaseException) -> BaseException:
    """greenroom's exception for ``error`` (a Ray exception); other exceptions unchanged."""
    if isinstance(error, rx.RayTaskError):
        return _task_error(error)
    for ray_type, ours in _SAME_NAME:
        if isinstance(error, ray_type):
            text = str(error)
            if _USER_EXIT in text:  # say it as greenroom does, in the words the user wrote
                text += " (the actor called exit_actor())"
            mapped = ours(text)
            mapped.__cause__ = error
            return mapped
    return error


_ANSI = re.compile(r"\x1b\[[0-9;]*m")
_HEAD = re.compile(r"ray::([^\s(]+)\(.*?\)(?: \(pid=(\d+))?")


def _task_error(error: rx.RayTaskError) -> BaseException:
    cause = error.__dict__.get("cause")
    if isinstance(cause, rx.RayError) and not isinstance(cause, rx.RayTaskError):
        return translate(cause)  # a system error inside the task (its actor died, ...): Ray's own type
    if isinstance(cause, rx.RayTaskError):
        cause = cause.__dict__.get("cause")
    if isinstance(cause, gx.RayTaskError):  # it failed in get() of a failed task: the innermost cause
        cause = cause.cause
    # Ray's dual instances (RayTaskError(ValueError)) keep only the cause and the message.
    text = _ANSI.sub("", str(error))
    head = _HEAD.search(text)
    name = error.__dict__.get("function_name") or (head.group(1) if head else "")
    pid = error.__dict__.get("pid") or (int(head.group(2)) if head and head.group(2) else None)
    mapped = gx.RayTaskError(
        name, text, cause, pid, type(cause).__name__ if cause is not None else None
    ).as_instanceof_cause()
    return mapped
