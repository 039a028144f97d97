"""greenroom's exceptions, with Ray's names so ``except ray.exceptions.X`` ports.

The tree::

    Exception
     └── RayError                       anything greenroom raises on its own behalf
          ├── RayTaskError              a task raised; also an instance of the cause's type
          ├── GetTimeoutError           get() ran out of time (also a TimeoutError)
          ├── WorkerCrashedError        the worker process died while running the task
          ├── RaySystemError            the runtime itself failed (e.g. unpickling)
          ├── TaskCancelledError        cancel() stopped the task
          ├── ObjectLostError           the object's value is gone
          │    ├── OwnerDiedError       ... because the process that owned it died
          │    ├── ObjectFreedError     ... because it was freed
          │    └── ObjectFetchTimedOutError  ... it could not be fetched in time
          ├── ObjectStoreFullError      a large value does not fit the object store
          ├── OutOfMemoryError          greenroom killed the worker for its memory (memory=, node guard)
          ├── NodeDiedError             the node running the work died
          ├── PendingCallsLimitExceeded an actor has max_pending_calls calls queued
          ├── AsyncioActorExit          exit_actor() inside an async actor method
          ├── ResourceDeadlockError     blocked tasks wait on work only they could run
          ├── TaskUnschedulableError    the node can never run it (also a ValueError)
          ├── ActorUnschedulableError   the node can never host it (also a ValueError)
          ├── ActorAlreadyExistsError   the actor name is taken (also a ValueError)
          └── RayActorError             the actor is dead
               ├── ActorDiedError
               └── ActorUnavailableError the actor can't take calls right now (restarting)
"""

from __future__ import annotations

import pickle
from typing import Any

__all__ = [
    "RayError",
    "RayTaskError",
    "GetTimeoutError",
    "WorkerCrashedError",
    "RaySystemError",
    "TaskCancelledError",
    "ObjectLostError",
    "ObjectStoreFullError",
    "OutOfMemoryError",
    "ResourceDeadlockError",
    "TaskUnschedulableError",
    "ActorUnschedulableError",
    "ActorAlreadyExistsError",
    "RayActorError",
    "ActorDiedError",
    "ActorUnavailableError",
    "OwnerDiedError",
    "ObjectFreedError",
    "ObjectFetchTimedOutError",
    "NodeDiedError",
    "PendingCallsLimitExceeded",
    "AsyncioActorExit",
]


class RayError(Exception):
    """Base of every error greenroom raises on its own behalf."""


class RayTaskError(RayError):
    """A remote task raised; ``get()`` re-raises it.

    The instance ``get()`` raises is also an instance of the original
    exception's type, so ``except ValueError:`` catches a remote ValueError.
    Its message carries the remote traceback. ``cause`` is the original
    exception (or None if it could not be pickled).
    """

    def __init__(
        self,
        function_name: str = "",
        traceback_str: str = "",
        cause: BaseException | None = None,
        pid: int | None = None,
        cause_type_name: str | None = None,
    ) -> None:
        self.function_name = function_name
        self.traceback_str = traceback_str
        self.cause = cause
        self.pid = pid
        self.cause_type_name = cause_type_name or (type(cause).__name__ if cause else "Exception")
        self.cause_blob: bytes | None = None  # the cause pickled apart (see __reduce__)
        super().__init__(function_name, traceback_str, cause, pid, self.cause_type_name)

    def __str__(self) -> str:
        where = f" (pid={self.pid})" if self.pid is not None else ""
        return (
            f"{self.cause_type_name} in task {self.function_name!r}{where}: "
            f"{self.cause if self.cause is not None else ''}\n{self.traceback_str}".rstrip()
        )

    def __reduce__(self) -> Any:
        # The cause travels pickled apart when it can: a caller that cannot rebuild its class
        # (defined only where the task ran) still gets this error, its type name and traceback.
        blob = getattr(self, "cause_blob", None)  # absent on as_instanceof_cause() copies
        cause = blob if blob is not None else self.cause
        return (_rebuild_task_error, (self.function_name, self.traceback_str, cause, self.pid, self.cause_type_name))

    def as_instanceof_cause(self) -> RayTaskError:
        """Return an error that is both a RayTaskError and the cause's type."""
        cause = self.cause
        if cause is None or isinstance(cause, RayTaskError):
            return self
        cls = _dual_class(type(cause))
        if cls is None:
            return self
        try:
            err = cls.__new__(cls)
        except Exception:
            return self
        err.__dict__.update(getattr(cause, "__dict__", {}))
        err.function_name = self.function_name
        err.traceback_str = self.traceback_str
        err.cause = cause
        err.pid = self.pid
        err.cause_type_name = self.cause_type_name
        err.args = cause.args
        return err


def _rebuild_task_error(function_name: str, traceback_str: str, cause: Any, pid: int | None,
                        cause_type_name: str) -> RayTaskError:  # fmt: skip
    if isinstance(cause, (bytes, bytearray)):
        try:
            cause = pickle.loads(cause)
        except Exception:
            cause = None
    return RayTaskError(function_name, traceback_str, cause, pid, cause_type_name)


_dual_classes: dict[type, type | None] = {}


def _dual_class(cause_type: type) -> type | None:
    """``RayTaskError(<cause>)``: a class that is both, cached per cause type."""
    if cause_type in _dual_classes:
        return _dual_classes[cause_type]
    try:
        cls: type | None = type(
            f"RayTaskError({cause_type.__name__})",
            (RayTaskError, cause_type),
            {
                "__str__": RayTaskError.__str__,
                "__reduce__": RayTaskError.__reduce__,
                "__module__": __name__,
            },
        )
    except TypeError:  # final or layout-incompatible exception types
        cls = None
    _dual_classes[cause_type] = cls
    return cls


class GetTimeoutError(RayError, TimeoutError):
    """``get()`` or ``wait()`` reached its timeout before the objects were ready."""


class WorkerCrashedError(RayError):
    """The worker process died while running the task (exit code or signal in
    the message). The task is retried up to ``max_retries`` before this is raised."""


class RaySystemError(RayError):
    """greenroom itself failed to carry out the call, e.g. an argument or result
    that could not be unpickled on the other side. The message names the cause."""


class TaskCancelledError(RayError):
    """The task was cancelled with ``cancel()`` before it could finish."""


class ObjectLostError(RayError):
    """The object's value is gone (its node shut down, or it was freed)."""


class OwnerDiedError(ObjectLostError):
    """The process that owned the object (created it) died, so its value is gone."""


class ObjectFreedError(ObjectLostError):
    """The object was freed (no reference to it was left, or it was freed explicitly)."""


class ObjectFetchTimedOutError(ObjectLostError):
    """The object's value could not be fetched in time."""


class NodeDiedError(RayError):
    """The node running the work died (a head node that went away, for an attached driver)."""


class PendingCallsLimitExceeded(RayError):
    """The actor already has ``max_pending_calls`` calls waiting; this call was refused.
    Wait for some to finish (``get``/``wait`` on their refs), or raise ``max_pending_calls``."""


class AsyncioActorExit(RayError):
    """Raised by ``exit_actor()`` inside an async actor's method: it ends the actor."""


class ObjectStoreFullError(RayError, MemoryError):
    """A large value does not fit in the object store's shared memory. Drop refs to
    values you no longer need, or start greenroom with more
    (``init(object_store_memory=...)``)."""


class OutOfMemoryError(RayError):
    """greenroom killed the worker running the task or actor because of memory: its
    resident memory passed the ``memory=`` it asked for, or the machine's memory
    passed the node-wide threshold (``init(_memory_usage_threshold=...)``, default
    0.95, as Ray's memory monitor) and it was the one chosen to free memory. The
    message names the task or actor, its pid, its resident size and the limit.
    The task is retried up to ``max_retries`` first. Ask for more ``memory=``, use
    less, run fewer such tasks at once, or exempt it with ``_enforce={"memory": False}``."""


class ResourceDeadlockError(RayError):
    """Tasks blocked in ``get()`` wait on work that can only run on resources
    they themselves hold. Ray hangs here; greenroom fails the blocked task.
    Give the inner work its own resources (a placement group), or request
    fewer GPUs or custom resources for the outer task."""


class TaskUnschedulableError(RayError, ValueError):
    """The task asks for more than this node has, so it could never run.
    Lower the request or start greenroom with more (``init(num_gpus=...)``)."""


class ActorUnschedulableError(RayError, ValueError):
    """The actor asks for more than this node has, so it could never start."""


class ActorAlreadyExistsError(RayError, ValueError):
    """An actor with this name already exists in the namespace. Pick another
    name, or pass ``get_if_exists=True`` to get the existing one."""


class RayActorError(RayError):
    """The actor is dead: its constructor raised, its process died, or it was killed."""


class ActorDiedError(RayActorError):
    """The actor died; the message says why (constructor error, exit code, signal)."""


class ActorUnavailableError(RayActorError):
    """The actor cannot take calls right now (it is restarting); retry later."""
