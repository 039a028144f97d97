"""Part of the Node: when stored objects are complete, and when they can go.

Every object entry counts the processes holding a ref to it (``holders``) and
what keeps it alive besides (``pins``: tasks using it as an argument, stored
values containing its ref). Once complete with neither, it is freed, and its
shared-memory block (object_store.py) goes back to the allocator. State lives
on the Node; this mixin only groups the methods. Loop thread only.
"""

from __future__ import annotations

from greenroom.runtime.handles import ACTOR

DRIVER = 0  # the process id of the driver in reference counts; workers use their worker id


class ObjectLifetimes:
    def _complete_returns(self, task_id: bytes, num_returns: int, kind: int, payloads: list,
                          contains: list | None = None) -> None:  # fmt: skip
        complete = self.objects.complete
        ids = [task_id + i.to_bytes(4, "little") for i in range(num_returns)]
        for oid, payload in zip(ids, payloads):
            complete(oid, kind, payload)
        if contains:
            self.set_contains(ids, contains)
        for oid in ids:  # nobody may hold a ref any more (a task whose result was dropped)
            self._maybe_free(oid)

    # -- reference counting --------------------------------------------------------------
    def reference_event(self, process: int, kind: str, key: bytes, delta: int) -> None:
        """A process gained (+1) or lost (-1) its last ref/handle to an object/actor."""
        if kind == ACTOR:
            self.actors.handle_event(process, key, delta)
            return
        entry = self.objects.entries.get(key)
        if entry is None:
            return
        if delta > 0:
            entry.holders.add(process)
            if process != DRIVER:
                self._held_by.setdefault(process, set()).add(key)
        elif delta < 0:
            entry.holders.discard(process)
            held = self._held_by.get(process)
            if held is not None:
                held.discard(key)
            self._maybe_free(key)

    def pin_objects(self, ids: list, delta: int) -> None:
        entries = self.objects.entries
        for oid in ids:
            entry = entries.get(oid)
            if entry is not None:
                entry.pins += delta
                if delta < 0:
                    self._maybe_free(oid)

    def set_contains(self, ids: list, contains: list) -> None:
        """Objects whose values hold refs to ``contains``: those live while they do."""
        for oid in ids:
            entry = self.objects.entries.get(oid)
            if entry is not None:
                entry.contains = (entry.contains or []) + list(contains)
                self.pin_objects(list(contains), +1)

    def _hold(self, process: int, ids: list) -> None:
        if process != DRIVER:
            self._held_by.setdefault(process, set()).update(ids)

    def _maybe_free(self, oid: bytes) -> None:
        entry = self.objects.entries.get(oid)
        if entry is None or entry.kind is None or entry.holders or entry.pins > 0 or entry.permanent:
            return
        self.objects.remove(oid)
        if isinstance(entry.payload, list):  # its buffers live in shared memory
            self.allocator.free(entry.payload[1])
        if entry.contains:
            self.pin_objects(entry.contains, -1)

    # -- shared-memory blocks in flight ----------------------------------------------------
    def _allocate_for(self, process: int, nbytes: int) -> int:
        """A block for a worker's value; it is the worker's until a payload names it."""
        offset = self.api_allocate(nbytes)
        self._unclaimed.setdefault(process, set()).add(offset)
        return offset

    def _claim(self, process: int, payloads: list) -> None:
        """Blocks named by payloads a worker sent now belong to their objects."""
        unclaimed = self._unclaimed.get(process)
        if unclaimed and payloads:
            for payload in payloads:
                if isinstance(payload, list):
                    unclaimed.discard(payload[1])

    def _release_process(self, process: int) -> None:
        """A worker process ended: it holds no refs any more, and blocks it never
        delivered (it died between allocating and sending its value) are freed."""
        for offset in self._unclaimed.pop(process, ()):
            self.allocator.free(offset)
        entries = self.objects.entries
        for oid in self._held_by.pop(process, ()):
            entry = entries.get(oid)
            if entry is not None:
                entry.holders.discard(process)
                self._maybe_free(oid)

