"""When stored objects are complete, and when they can go.

Every object entry counts the processes holding a ref to it (``holders``) and
what keeps it alive besides (``pins``: tasks using it as an argument, stored
values containing its ref). Once complete with neither, it is freed, and its
shared-memory block (object_store.py) goes back to the allocator. Blocks a
worker allocated but has not delivered yet are its own until a payload names
them, and are freed if it dies first. Loop thread only.
"""

from __future__ import annotations

from typing import Any

from greenroom import exceptions
from greenroom.runtime import object_store
from greenroom.runtime.object_ref import object_id, return_ids
from greenroom.runtime.object_table import ObjectTable

DRIVER = 0  # the process id of the driver in reference counts; workers use their worker id
_FIRST = object_id(b"", 0)  # the suffix of a task's first return id (the common case, inlined)


class ObjectLifetimes:
    """Owns the object table's reference counts, pins and shared-memory blocks."""

    def __init__(self, objects: ObjectTable, allocator: object_store.Allocator) -> None:
        self.objects = objects
        self.allocator = allocator
        self._held_by: dict[int, set[bytes]] = {}  # worker id -> objects it holds refs to
        self._unclaimed: dict[int, set[int]] = {}  # worker id -> blocks allocated, not yet delivered

    def complete_returns(self, task_id: bytes, num_returns: int, kind: int | list, payloads: list,
                         contains: list | None = None) -> None:  # fmt: skip
        """Store a task's (or actor call's) outcome in its return objects. ``kind``: one for all, or
        one per return (a generator that raised part-way: its values, then its error)."""
        complete = self.objects.complete
        ids = [task_id + _FIRST] if num_returns == 1 else return_ids(task_id, num_returns)
        if type(kind) is list:
            for oid, each, payload in zip(ids, kind, payloads):
                complete(oid, each, payload)
        else:
            for oid, payload in zip(ids, payloads):
                complete(oid, kind, payload)
        if contains:
            self.set_contains(ids, contains)
        for oid in ids:  # nobody may hold a ref any more (a task whose result was dropped)
            self._maybe_free(oid)

    def create_held(self, ids: list, name: str, process: int) -> None:
        """New pending objects whose refs ``process`` holds (a worker's submission)."""
        self.objects.ensure(ids, name, holder=process)
        self.hold(process, ids)

    def put(self, process: int, oid: bytes, kind: int, payload: Any, contains: list) -> None:
        """A value ``process`` stored with put()."""
        self.claim(process, [payload])
        self.objects.create([oid], "put", holder=process)
        self.hold(process, [oid])
        self.objects.complete(oid, kind, payload)
        if contains:
            self.set_contains([oid], contains)

    # -- reference counting --------------------------------------------------------------
    def reference_event(self, process: int, key: bytes, delta: int) -> None:
        """A process gained (+1) or lost (-1) its last ref to an object."""
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

    def pin(self, ids: list, delta: int) -> None:
        """Keep objects alive (+1) for a task or stored value that uses them, or let go (-1)."""
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
                self.pin(list(contains), +1)

    def hold(self, process: int, ids: list) -> None:
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
            self.pin(entry.contains, -1)

    # -- shared-memory blocks in flight ----------------------------------------------------
    def allocate(self, nbytes: int) -> int:
        try:
            return self.allocator.allocate(nbytes)
        except object_store.StoreFullError as e:
            raise exceptions.ObjectStoreFullError(
                f"{e}. Drop refs to values you no longer need, or start greenroom with a larger "
                "store: init(object_store_memory=...)"
            ) from None

    def allocate_for(self, process: int, nbytes: int) -> int:
        """A block for a worker's value; it is the worker's until a payload names it."""
        offset = self.allocate(nbytes)
        self._unclaimed.setdefault(process, set()).add(offset)
        return offset

    def claim(self, process: int, payloads: list) -> None:
        """Blocks named by payloads a worker sent now belong to their objects."""
        unclaimed = self._unclaimed.get(process)
        if unclaimed and payloads:
            for payload in payloads:
                if isinstance(payload, list):
                    unclaimed.discard(payload[1])

    def discard(self, payload: Any) -> None:
        """A value that arrived but is not stored (a generator item nobody will read): its
        shared-memory block, if it has one, goes back."""
        if isinstance(payload, list):
            self.allocator.free(payload[1])

    def release_process(self, process: int) -> None:
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

    def fail_pending(self, kind: int, payload: bytes) -> None:
        """Complete every object not ready yet with this error (shutdown, a broken node)."""
        for oid, entry in list(self.objects.entries.items()):
            if entry.kind is None:
                self.objects.complete(oid, kind, payload)
