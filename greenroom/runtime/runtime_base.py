"""The narrow interface between the public API and a node.

``Runtime`` is what ``greenroom.get``/``remote``/``put``... call. Two kinds:
``DriverRuntime`` (driver.py) owns a node in this process; ``ClientRuntime``
talks to a node over a socket (a worker today; an attached driver later).
Everything a caller needs beyond get/wait goes through ``call(method, *args)``,
a named method of the node (Node.api_*), the same for both kinds.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import operator
from typing import Any

from greenroom import exceptions
from greenroom.runtime import object_store, serialization, wire
from greenroom.runtime.handles import ACTOR, OBJECT, Counts, collecting
from greenroom.runtime.object_ref import IdMinter, ObjectRef, object_id
from greenroom.runtime.task_spec import TaskSpec, encode_args

_ID = operator.attrgetter("id")  # ref.id over a list of refs, at C speed


def decode(kind: int, payload: bytes | list, name: str = "", runtime: Any = None) -> Any:
    """Turn a stored payload back into its value, or raise what it holds.

    A list payload is a value in shared memory (object_store.py): it is mapped
    without a copy, and ``runtime`` counts the mapping as a reference.
    """
    try:
        if isinstance(payload, list):
            value = object_store.deserialize(payload, runtime.arena, runtime.refs.added, runtime.refs.removed)
        else:
            value = serialization.loads(payload)
    except Exception as e:
        raise exceptions.RaySystemError(
            f"could not unpickle the result of task {name!r}: {type(e).__name__}: {e}. "
            "Make sure its classes are importable in this process."
        ) from e
    if kind == wire.VALUE:
        return value
    if kind == wire.TASK_ERROR:
        raise value.as_instanceof_cause()
    raise value


def _is_large(value: Any) -> bool:
    if type(value) is ObjectRef or serialization.is_plain(value):
        return False
    size = getattr(value, "nbytes", None)
    if size is None and isinstance(value, (bytes, bytearray)):
        size = len(value)
    return isinstance(size, int) and size >= object_store.INLINE_LIMIT


class Runtime:
    """Shared by driver and client runtimes: building specs and refs."""

    backend = "local"  # greenroom's own node (state.Runtime.backend)

    def __init__(self, ids: IdMinter) -> None:
        self.ids = ids
        self.exported: set[bytes] = set()
        self.handles = Counts(lambda actor_id, delta: self._reference_event(ACTOR, actor_id, delta))
        self.refs = Counts(lambda object_id, delta: self._reference_event(OBJECT, object_id, delta))
        self.arena: object_store.Arena | None = None  # the node's shared memory, once attached
        # (pg id, -1) while this process runs work placed with placement_group_capture_child_tasks:
        # its tasks and actors that name no strategy run in that group too. Else None.
        self.default_placement: tuple | None = None
        self.node_id = ""

    def _reference_event(self, kind: str, key: bytes, delta: int) -> None:
        """Tell the node this process now holds (+1) or dropped (-1) an actor's handles
        (kind ACTOR; 0: pinned for good) or an object's refs (kind OBJECT)."""
        raise NotImplementedError

    def pin_handles(self, actor_ids: list) -> None:
        for actor_id in actor_ids:
            self._reference_event(ACTOR, actor_id, 0)

    # -- implemented by subclasses -------------------------------------------------
    def _submit(self, spec: TaskSpec) -> None:
        raise NotImplementedError

    def call(self, method: str, *args: Any) -> Any:
        raise NotImplementedError

    def get_payloads(self, ids: list[bytes], timeout: float | None) -> list[tuple[int, Any, str]]:
        raise NotImplementedError

    def wait_ids(self, ids: list[bytes], num_returns: int, timeout: float | None) -> set[bytes]:
        raise NotImplementedError

    def _put_payload(self, oid: bytes, payload: bytes, contains: list) -> None:
        """Store a put() value held by this process; ``contains``: refs pickled inside it."""
        raise NotImplementedError

    # -- shared --------------------------------------------------------------------
    def promote_large(self, args: tuple, kwargs: dict) -> tuple[tuple, dict]:
        """Put large top-level arguments (arrays, bytes) in the object store first, as Ray
        does, so they reach the worker through shared memory instead of the socket."""
        if self.arena is None:
            return args, kwargs
        if any(_is_large(a) for a in args):
            args = tuple(self.put(a) if _is_large(a) else a for a in args)
        if kwargs and any(_is_large(v) for v in kwargs.values()):
            kwargs = {k: self.put(v) if _is_large(v) else v for k, v in kwargs.items()}
        return args, kwargs

    def submit_task(self, fn_info: Any, options: Any, args: tuple, kwargs: dict) -> list[ObjectRef]:
        name = fn_info.name
        args, kwargs = self.promote_large(args, kwargs)
        args_blob, deps, pickled = encode_args(args, kwargs, name)
        task_id = self.ids.task_id()
        func_id = fn_info.func_id
        blob = None
        if func_id not in self.exported:
            blob = fn_info.blob
            self.exported.add(func_id)
        placement, capture = self.placement_for(options.scheduling, f"task {name!r}")
        spec = TaskSpec(
            task_id, name, func_id, blob, args_blob, deps, options.num_returns,
            options.request, placement, options.max_retries,
            options.retry_exceptions, options.max_calls, pickled.actors, pickled.objects, capture,
            options.enforce, options.generator, options.env_vars or None,
        )  # fmt: skip
        try:
            self._submit(spec)
        except BaseException:
            if blob is not None:
                self.exported.discard(func_id)
            raise
        return [ObjectRef._owned(object_id(task_id, i), self.refs) for i in range(options.num_returns)]

    def placement_for(self, scheduling: Any, what: str, error: type = exceptions.TaskUnschedulableError) -> tuple:
        """(placement, capture) for new work: its own strategy's, or, when it names none, the
        placement group this process captures work into (``placement_group_capture_child_tasks``)."""
        if scheduling.node_affinity is not None:
            node_id, soft = scheduling.node_affinity
            if node_id != self.node_id and not soft:
                raise error(
                    f"{what}: NodeAffinitySchedulingStrategy(node_id={node_id!r}, soft=False) names a node "
                    f"this cluster does not have (its one node is {self.node_id!r}); pass this node's id "
                    "(get_runtime_context().get_node_id()) or soft=True"
                )
            return None, False
        if scheduling.inherit and self.default_placement is not None:
            return self.default_placement, True  # captured work captures its own children too, as in Ray
        return scheduling.placement, scheduling.capture

    def submit_actor_call(self, actor_id: bytes, method: str, name: str, num_returns: int, args: tuple,
                          kwargs: dict, group: str | None = None, max_task_retries: int | None = None,
                          generator: tuple | None = None) -> list[ObjectRef]:  # fmt: skip
        """``generator``: (mode, backpressure) of a generator method (num_returns is then 1)."""
        args, kwargs = self.promote_large(args, kwargs)
        args_blob, deps, pickled = encode_args(args, kwargs, name)
        task_id = self.ids.task_id()
        self._submit_actor_call(actor_id, wire.CallSpec(
            task_id, method, args_blob, deps, num_returns, name, pickled.actors, pickled.objects, group, max_task_retries,
            generator,
        ))  # fmt: skip
        return [ObjectRef._owned(object_id(task_id, i), self.refs) for i in range(num_returns)]

    def _submit_actor_call(self, actor_id: bytes, call: wire.CallSpec) -> None:
        raise NotImplementedError

    def get(self, refs: list[ObjectRef], timeout: float | None) -> list[Any]:
        return [decode(kind, payload, name, self) for kind, payload, name in self.get_payloads(list(map(_ID, refs)), timeout)]

    def allocate(self, nbytes: int) -> int:
        """A block of the node's shared memory for a large value; its offset."""
        raise NotImplementedError

    def store_payload(self, value: Any, object_id: bytes) -> bytes | list:
        """How a value to store (put or result) travels: see object_store.serialize."""
        try:
            return object_store.serialize(value, self.allocate, self.arena, object_id)
        except object_store.StoreFullError as e:
            raise exceptions.ObjectStoreFullError(
                f"{e}. Drop refs to values you no longer need, or start greenroom with a larger "
                "store: init(object_store_memory=...)"
            ) from None

    def put(self, value: Any) -> ObjectRef:
        if isinstance(value, ObjectRef):
            raise TypeError(
                "put() of an ObjectRef is not allowed: pass the ref itself, or wrap it in a list"
            )
        oid = object_id(self.ids.task_id(), 0)
        try:
            with collecting() as pickled:
                payload = self.store_payload(value, oid)
        except exceptions.ObjectStoreFullError:
            raise
        except Exception as e:
            raise TypeError(f"cannot pickle the value given to put(): {value!r:.200} ({type(e).__name__}: {e})") from e
        self.pin_handles(pickled.actors)
        self._put_payload(oid, payload, pickled.objects)
        return ObjectRef._owned(oid, self.refs)

    def future(self, ref: ObjectRef) -> concurrent.futures.Future:
        fut: concurrent.futures.Future = concurrent.futures.Future()

        def fetch() -> None:
            try:
                fut.set_result(self.get([ref], None)[0])
            except BaseException as e:
                fut.set_exception(e)

        self._when_ready(ref.id, fetch)
        return fut

    async def await_ref(self, ref: ObjectRef) -> Any:
        loop = asyncio.get_running_loop()
        fut = loop.create_future()

        def wake() -> None:
            loop.call_soon_threadsafe(lambda: fut.done() or fut.set_result(None))

        self._when_ready(ref.id, wake)
        await fut
        return self.get([ref], None)[0]

    def _when_ready(self, oid: bytes, callback: Any) -> None:
        """Call ``callback()`` (from any thread) once the object is ready."""
        raise NotImplementedError

    def done_ids(self, ids: list[bytes]) -> set[bytes]:
        """The ones of ``ids`` that are ready or gone (freed), without waiting."""
        return set(self.call("done_ids", ids))

    # -- streaming generators (generators.py; the slots are explained in stream_state.py) ------
    def stream_take(self, task_id: bytes, index: int, peek: bool = False) -> int | None:
        """The payload kind of a stream's slot ``index`` if it is ready, else None; unless
        ``peek``, this process takes it (it becomes an ObjectRef here)."""
        return self.call("stream_take", task_id, index, peek)

    def stream_dropped(self, task_id: bytes, taken: int) -> None:
        """This process's generator of ``task_id`` was dropped after taking ``taken`` slots
        (may run inside ``__del__``)."""
        raise NotImplementedError

    async def wait_ready(self, oid: bytes) -> None:
        """Wait, without blocking the running event loop, until the object is ready."""
        loop = asyncio.get_running_loop()
        fut = loop.create_future()
        self._when_ready(oid, lambda: loop.call_soon_threadsafe(lambda: fut.done() or fut.set_result(None)))
        await fut

    def is_canceled(self, task_id: bytes) -> bool:
        """Whether cancel() was called for this task (running in this process)."""
        return False


class ClientRuntime(Runtime):
    """A runtime that reaches its node through request/reply messages."""

    def _request(self, op: str, args: Any) -> Any:
        raise NotImplementedError

    def _send(self, msg: tuple) -> None:
        raise NotImplementedError

    def _submit(self, spec: TaskSpec) -> None:
        self._request(wire.OP_SUBMIT, spec.to_wire())

    def call(self, method: str, *args: Any) -> Any:
        return self._request(wire.OP_CALL, wire.CallArgs(method, serialization.dumps(args)))

    def get_payloads(self, ids: list[bytes], timeout: float | None) -> list[tuple[int, Any, str]]:
        return [tuple(p) for p in self._request(wire.OP_GET, wire.GetArgs(ids, timeout))]

    def wait_ids(self, ids: list[bytes], num_returns: int, timeout: float | None) -> set[bytes]:
        return set(self._request(wire.OP_WAIT, wire.WaitArgs(ids, num_returns, timeout)))

    def allocate(self, nbytes: int) -> int:
        return self.call("allocate", nbytes)

    def _put_payload(self, oid: bytes, payload: bytes, contains: list) -> None:
        self.flush_events_before()
        self._send(wire.Request(0, wire.OP_PUT, wire.PutArgs(oid, payload, contains)))

    def _submit_actor_call(self, actor_id: bytes, call: wire.CallSpec) -> None:
        self.flush_events_before()
        self._send(wire.Request(0, wire.OP_ACTOR_CALL, wire.ActorCallArgs(actor_id, call)))

    def flush_events_before(self) -> None:
        """Send reference gains before a message that may release pins on them."""

    def flush_events_after(self) -> None:
        """Send reference losses after that message (never free what it stores)."""

    def future(self, ref: ObjectRef) -> concurrent.futures.Future:
        # One thread talks to the node in a worker, so resolve in place.
        fut: concurrent.futures.Future = concurrent.futures.Future()
        try:
            fut.set_result(self.get([ref], None)[0])
        except BaseException as e:
            fut.set_exception(e)
        return fut

    async def await_ref(self, ref: ObjectRef) -> Any:
        return self.get([ref], None)[0]

    async def wait_ready(self, oid: bytes) -> None:
        self.wait_ids([oid], 1, None)
