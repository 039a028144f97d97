"""DriverRuntime: the API in the process that owns the node.

Submissions go onto the node's inbox without waiting (one loop wakeup per
burst); ``get()`` reads the shared object table directly and blocks on a
threading event only for objects not ready yet. Everything else is a
``Node.api_*`` call run on the node's loop.
"""

from __future__ import annotations

from typing import Any

from greenroom import exceptions
from greenroom.runtime import wire
from greenroom.runtime.handles import ACTOR
from greenroom.runtime.node import Node
from greenroom.runtime.node_objects import DRIVER
from greenroom.runtime.object_ref import IdMinter, object_id, return_ids
from greenroom.runtime.object_table import UnknownObject
from greenroom.runtime.options import STREAMING
from greenroom.runtime.runtime_base import Runtime
from greenroom.runtime.task_spec import TaskSpec


class DriverRuntime(Runtime):
    def __init__(self, node: Node, job: dict) -> None:
        super().__init__(IdMinter(0))
        self.node = node
        self.objects = node.objects
        self.namespace = job["namespace"]
        self.job_id = job["job_id"]
        self.node_id = job["node_id"]
        self._feasible: dict[Any, None] = {}
        self.arena = node.arena

    def allocate(self, nbytes: int) -> int:
        allocator = self.node.allocator
        if not allocator.fits_warm(nbytes):
            # Frees this thread already sent may not be applied yet; reusing a warm block
            # writes several times faster than faulting in fresh shared memory.
            self.node.call("sync")
        return allocator.allocate(nbytes)

    def _submit(self, spec: TaskSpec) -> None:
        node = self.node
        node.check_usable()
        shape = (spec.request, spec.placement)
        if shape not in self._feasible:
            reason = node.scheduler.infeasible_reason(spec.request, spec.placement)
            if reason:
                raise exceptions.TaskUnschedulableError(f"task {spec.name!r}: {reason}")
            if spec.placement is None:  # a group's bundles can go away; the node's can't
                self._feasible[shape] = None
        self.objects.create(return_ids(spec.task_id, spec.num_returns), spec.name, holder=DRIVER)
        if spec.generator is not None and spec.generator[0] == STREAMING:
            node.streams.open(spec.task_id, spec.name, DRIVER, spec.generator[1])
        node.submit_threadsafe(spec)

    def _submit_actor_call(self, actor_id: bytes, call: wire.CallSpec) -> None:
        node = self.node
        node.check_usable()
        ids = [object_id(call.task_id, 0)] if call.num_returns == 1 else return_ids(call.task_id, call.num_returns)
        self.objects.create(ids, call.name, holder=DRIVER)
        if call.generator is not None and call.generator[0] == STREAMING:
            node.streams.open(call.task_id, call.name, DRIVER, call.generator[1])
        node.loop.post(node.actors.submit_call, actor_id, call)

    def _reference_event(self, kind: str, key: bytes, delta: int) -> None:
        node = self.node
        if not node.closed:
            # Gains must land before anything that could release a pin; losses may wait.
            apply = node.actors.handle_event if kind == ACTOR else node.lifetimes.reference_event
            (node.loop.post if delta >= 0 else node.loop.post_lazy)(apply, DRIVER, key, delta)

    def call(self, method: str, *args: Any) -> Any:
        return self.node.call(method, *args)

    def get_payloads(self, ids: list[bytes], timeout: float | None) -> list[tuple[int, Any, str]]:
        entries = self.objects.entries
        try:
            pending = self.objects.not_ready(ids)
            if pending:
                ready = self.objects.wait(pending, len(pending), timeout) if timeout != 0 else ()
                if len(ready) < len(pending) and len(ready) < (missing := len(set(pending))):  # get([r, r]): r once
                    raise exceptions.GetTimeoutError(
                        f"get() timed out after {timeout} s: {missing - len(ready)} of "
                        f"{len(ids)} objects not ready"
                    )
        except UnknownObject as e:
            _refuse_foreign(e.args[0])
            raise _freed(e.args[0]) from None
        out = []
        for oid in ids:
            e = entries[oid]
            out.append((e.kind, e.payload, e.name))
        return out

    def done_ids(self, ids: list[bytes]) -> set[bytes]:
        entries = self.objects.entries
        return {oid for oid in ids if (entry := entries.get(oid)) is None or entry.kind is not None}

    def wait_ids(self, ids: list[bytes], num_returns: int, timeout: float | None) -> set[bytes]:
        try:
            return self.objects.wait(ids, num_returns, timeout)
        except UnknownObject as e:
            _refuse_foreign(e.args[0])
            raise _freed(e.args[0]) from None

    def _put_payload(self, oid: bytes, payload: bytes, contains: list) -> None:
        self.objects.create([oid], "put", holder=DRIVER)
        self.objects.complete(oid, wire.VALUE, payload)
        if contains:
            self.node.loop.post(self.node.lifetimes.set_contains, [oid], contains)

    def stream_take(self, task_id: bytes, index: int, peek: bool = False) -> int | None:
        entry = self.objects.entries.get(object_id(task_id, index))
        if entry is None or entry.kind is None:
            return None
        if not peek and entry.kind != wire.END:
            streams = self.node.streams
            if streams.holds_back(task_id):  # its producer may be waiting for us to take this
                self.node.loop.post(streams.taken, task_id, index)
        return entry.kind

    def stream_dropped(self, task_id: bytes, taken: int) -> None:
        node = self.node
        if not node.closed:
            node.loop.post_lazy(node.streams.drop, DRIVER, task_id, taken)

    def _when_ready(self, oid: bytes, callback: Any) -> None:
        if oid not in self.objects.entries:
            _refuse_foreign(oid)
            raise exceptions.ObjectFreedError(
                f"object {oid.hex()} is unknown to this node: it was freed, or comes from an earlier session"
            )
        if not self.objects.on_ready(oid, lambda _o, _e: callback()):
            callback()

    def shutdown(self) -> None:
        self.node.stop()


def _freed(oid: bytes) -> exceptions.ObjectFreedError:
    return exceptions.ObjectFreedError(
        f"object {oid.hex()} is unknown to this node: it was freed, or comes from an earlier session"
    )


def _refuse_foreign(oid: bytes) -> None:
    """An ObjectRef of another backend (its id says which) is refused with what happened."""
    backend = getattr(oid, "backend", "local")
    if backend != "local":
        raise ValueError(
            f"ObjectRef({oid.hex()}) belongs to the {backend!r} backend (a cluster greenroom was connected "
            "to with init(address=...)), not to this local node; get it while connected to that cluster"
        )
