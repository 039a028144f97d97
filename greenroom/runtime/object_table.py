"""The node's object table: every object's state, shared by the loop and driver threads.

An entry is created pending (by ``submit`` or ``put``, in the caller's thread,
so a ``get()`` right after ``.remote()`` always finds it) and completed once,
by the node's loop thread, with a payload kind and bytes (see wire.py). One
lock guards the pending -> ready transition and the waiter lists, so a waiter
added concurrently with completion is never lost. Callbacks run outside the
lock, on the completing thread.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from typing import Any

Callback = Callable[[bytes, "ObjectEntry"], None]


class ObjectEntry:
    __slots__ = ("kind", "payload", "callbacks", "name", "holders", "pins", "contains", "permanent")

    def __init__(self, name: str, holder: int | None = None) -> None:
        self.kind: int | None = None  # None while pending
        self.payload: Any = None
        self.callbacks: list[Callback] | None = None
        self.name = name  # the producing task's name, for error messages
        # Freed once complete with no holders and no pins (see Node.reference_event).
        self.holders: set[int] = {holder} if holder is not None else set()  # processes with a ref
        self.pins = 0  # tasks using it as an argument, objects containing its ref
        self.contains: list | None = None  # refs pickled inside its value: pinned while it lives
        self.permanent = False

    @property
    def ready(self) -> bool:
        return self.kind is not None


class ObjectTable:
    def __init__(self) -> None:
        self.entries: dict[bytes, ObjectEntry] = {}
        self.lock = threading.Lock()

    # create() and ensure() take no lock: each is one dict store, atomic under the GIL,
    # and the driver thread calls create() for every submission. Taking the lock there
    # made the loop thread queue behind a driver thread preempted inside it.
    def create(self, ids: Iterable[bytes], name: str, holder: int | None = None) -> None:
        entries = self.entries
        for oid in ids:
            entries[oid] = ObjectEntry(name, holder)

    def ensure(self, ids: Iterable[bytes], name: str, holder: int | None = None) -> None:
        """Create entries that don't exist yet (keeps waiters of existing ones)."""
        entries = self.entries
        for oid in ids:
            if oid not in entries:
                entries.setdefault(oid, ObjectEntry(name, holder))

    def remove(self, oid: bytes) -> ObjectEntry | None:
        with self.lock:
            return self.entries.pop(oid, None)

    def get(self, oid: bytes) -> ObjectEntry | None:
        return self.entries.get(oid)

    def complete(self, oid: bytes, kind: int, payload: Any) -> None:
        """Make an object ready and run its waiters. Completing twice is ignored."""
        with self.lock:
            entry = self.entries.get(oid)
            if entry is None:
                entry = self.entries[oid] = ObjectEntry("")
            elif entry.kind is not None:
                return
            entry.payload = payload
            entry.kind = kind
            callbacks, entry.callbacks = entry.callbacks, None
        if callbacks:
            for cb in callbacks:
                cb(oid, entry)

    def on_ready(self, oid: bytes, callback: Callback) -> bool:
        """Run ``callback`` when the object is ready. False if it already is
        (the callback is then not called); unknown ids count as pending."""
        with self.lock:
            entry = self.entries.get(oid)
            if entry is None:
                entry = self.entries[oid] = ObjectEntry("")
            if entry.kind is not None:
                return False
            if entry.callbacks is None:
                entry.callbacks = [callback]
            else:
                entry.callbacks.append(callback)
            return True

    def remove_callback(self, oid: bytes, callback: Callback) -> None:
        with self.lock:
            entry = self.entries.get(oid)
            if entry is not None and entry.callbacks:
                try:
                    entry.callbacks.remove(callback)
                except ValueError:
                    pass

    def wait(self, ids: list[bytes], num_ready: int, timeout: float | None) -> set[bytes]:
        """Block the calling thread until ``num_ready`` of ``ids`` are ready or
        the timeout passes; return the ready ones."""
        ready: set[bytes] = set()
        pending: list[bytes] = []
        for oid in ids:
            entry = self.entries.get(oid)
            if entry is not None and entry.kind is not None:
                ready.add(oid)
            else:
                pending.append(oid)
        if len(ready) >= num_ready or not pending or timeout == 0:
            return ready
        cond = threading.Event()
        done: set[bytes] = set()

        def arrived(oid: bytes, _entry: ObjectEntry) -> None:
            done.add(oid)
            if len(ready) + len(done) >= num_ready:
                cond.set()

        registered = []
        for oid in pending:
            if self.on_ready(oid, arrived):
                registered.append(oid)
            else:
                done.add(oid)
        if len(ready) + len(done) < num_ready:
            cond.wait(timeout)
        for oid in registered:
            self.remove_callback(oid, arrived)
        return ready | done
