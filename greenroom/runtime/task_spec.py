"""What a task is, on its way from the caller to the node: TaskSpec and argument encoding."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from greenroom.runtime import serialization, wire
from greenroom.runtime.handles import Pickled, collecting
from greenroom.runtime.limits import ALL
from greenroom.runtime.object_ref import ObjectRef
from greenroom.scheduler.resources import ResourceSet


@dataclass(slots=True)
class TaskSpec:
    task_id: bytes
    name: str
    func_id: bytes
    func_blob: bytes | None  # None when the node already has this function
    args_blob: bytes  # b"" for no arguments
    deps: list  # [[position, object_id], ...] top-level ObjectRef arguments
    num_returns: int
    request: ResourceSet
    placement: tuple | None  # (pg_id, bundle_index)
    max_retries: int
    retry_exceptions: Any  # bool or tuple of exception types
    max_calls: int  # 0: unlimited
    pins: list  # ids of actors whose handles travel in the arguments
    ref_pins: list  # ids of objects whose refs travel nested in the arguments
    capture: bool = False  # its own tasks and actors run in its placement group by default
    enforce: int = ALL  # what it asks to have enforced (limits.py); the node ANDs its own
    generator: tuple | list | None = None  # (mode, backpressure) of a generator task (options.generator_of)
    env_vars: tuple | list | None = None  # runtime_env env_vars, (name, value) pairs; None: its caller's

    def to_wire(self) -> wire.TaskMsg:
        retry = self.retry_exceptions
        if not isinstance(retry, bool):
            retry = serialization.dumps(retry)
        return wire.TaskMsg(
            self.task_id, self.name, self.func_id, self.func_blob, self.args_blob, self.deps,
            self.num_returns, dict(self.request.amounts), list(self.placement) if self.placement else None,
            self.max_retries, retry, self.max_calls, self.pins, self.ref_pins, self.capture, self.generator,
            self.enforce, [list(p) for p in self.env_vars] if self.env_vars else None,
        )  # fmt: skip

    @classmethod
    def from_wire(cls, msg: wire.TaskMsg) -> TaskSpec:
        retry = msg.retry_exceptions
        if isinstance(retry, bytes):
            retry = serialization.loads(retry)
        return cls(
            msg.task_id, msg.name, msg.func_id, msg.func_blob, msg.args_blob, msg.deps, msg.num_returns,
            ResourceSet.from_units(msg.request), tuple(msg.placement) if msg.placement else None,
            msg.max_retries, retry, msg.max_calls, msg.pins, msg.ref_pins, msg.capture, msg.enforce,
            msg.generator, tuple(map(tuple, msg.env_vars)) if msg.env_vars else None,
        )  # fmt: skip


def encode_args(args: tuple, kwargs: dict, name: str) -> tuple[bytes, list, Pickled]:
    """Pickle a call's arguments: (blob, deps, the handles and refs pickled in them).
    Top-level ObjectRefs become dependencies the node resolves before the task
    runs (refs nested deeper travel as refs)."""
    if not args and not kwargs:
        return b"", [], Pickled()
    is_plain = serialization.is_plain
    if all(is_plain(a) for a in args) and all(is_plain(v) for v in kwargs.values()):
        return serialization.dumps_plain((args, kwargs)), [], Pickled()
    deps: list = []
    for i, a in enumerate(args):
        if type(a) is ObjectRef:
            deps.append([i, a.id])
    for k, v in kwargs.items():
        if type(v) is ObjectRef:
            deps.append([k, v.id])
    if deps:
        args = tuple(None if type(a) is ObjectRef else a for a in args)
        kwargs = {k: (None if type(v) is ObjectRef else v) for k, v in kwargs.items()}
    try:
        with collecting() as pickled:
            blob = serialization.dumps_framed((args, kwargs))
        return blob, deps, pickled
    except Exception as e:  # the pickling error itself reaches the caller, explained
        if hasattr(e, "add_note"):  # Python 3.11+
            e.add_note(_unpicklable_argument(args, kwargs, name, e))
        raise


def _unpicklable_argument(args: tuple, kwargs: dict, name: str, error: Exception) -> str:
    for where, value in [*((f"argument {i}", a) for i, a in enumerate(args)),
                         *((f"keyword argument {k!r}", v) for k, v in kwargs.items())]:  # fmt: skip
        try:
            serialization.dumps(value)
        except Exception as e:
            return (
                f"cannot pickle {where} of task {name!r}: {value!r:.200} "
                f"({type(e).__name__}: {e}). Pass something picklable, or create the object "
                "inside the task (or an actor) instead."
            )
    return f"cannot pickle the arguments of task {name!r}: {type(error).__name__}: {error}"
