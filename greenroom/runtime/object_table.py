"""The node's object table: every object's state, shared by the loop and driver threads.

An entry is created pending (by ``submit`` or ``put``, in the caller's thread,
so a ``get()`` right after ``.remote()`` always finds it) and completed once,
by the node's loop thread, with a payload kind and bytes (see wire.py). One
lock guards the pending -> ready transition and the waiter lists, so a waiter
added concurrently with completion is never lost. Callbacks run outside the
lock, on the completing thread.
"""

from __future__ import annotations

import _thread
import itertools
import threading
from collections.abc import Callable, Collection, Iterable
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


class UnknownObject(KeyError):
    """An id the table does not know: freed, or from an earlier session (the driver says so)."""


class ObjectTable:
    def __init__(self) -> None:
        self.entries: dict[bytes, ObjectEntry] = {}
        self.lock = threading.Lock()
        # The ids of entries not ready yet, and of those ready, so that get() and wait() over
        # many refs are C-level set lookups, no Python code per id (see wait()). Every known
        # id is in one of them at any time, in ``done`` only once its ``kind`` is set: an id
        # goes into ``pending`` before its entry is created, into ``done`` before it leaves
        # ``pending``, and out of ``done`` before its entry is removed.
        self.pending: set[bytes] = set()
        self.done: set[bytes] = set()

    # create() and ensure() take no lock: each is one dict store, atomic under the GIL,
    # and the driver thread calls create() for every submission. Taking the lock there
    # made the loop thread queue behind a driver thread preempted inside it.
    def create(self, ids: Iterable[bytes], name: str, holder: int | None = None) -> None:
        entries, pending, done = self.entries, self.pending, self.done
        for oid in ids:
            pending.add(oid)
            done.discard(oid)
            entries[oid] = ObjectEntry(name, holder)

    def ensure(self, ids: Iterable[bytes], name: str, holder: int | None = None) -> None:
        """Create entries that don't exist yet (keeps waiters of existing ones)."""
        entries, pending = self.entries, self.pending
        for oid in ids:
            if oid not in entries:
                pending.add(oid)
                if entries.setdefault(oid, ObjectEntry(name, holder)).kind is not None:
                    self.done.add(oid)  # another thread created and completed it meanwhile
                    pending.discard(oid)

    def remove(self, oid: bytes) -> ObjectEntry | None:
        with self.lock:
            self.done.discard(oid)
            entry = self.entries.pop(oid, None)
            self.pending.discard(oid)
            return entry

    def get(self, oid: bytes) -> ObjectEntry | None:
        return self.entries.get(oid)

    def complete(self, oid: bytes, kind: int, payload: Any) -> None:
        """Make an object ready and run its waiters. Completing twice is ignored."""
        with self.lock:
            entry = self.entries.get(oid)
            if entry is not None and entry.kind is not None:
                return
            fresh = entry is None
            if fresh:
                entry = ObjectEntry("")
            entry.payload = payload
            entry.kind = kind
            if fresh:
                self.entries[oid] = entry  # only once ready
            self.done.add(oid)
            self.pending.discard(oid)
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
                self.pending.add(oid)
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

    def _wait_one(self, oid: bytes, timeout: float | None) -> set[bytes]:
        """wait() for one id not known to be ready: no sets, one callback."""
        if timeout == 0:
            entry = self.entries.get(oid)
            return {oid} if entry is not None and entry.kind is not None else set()
        woken = _thread.allocate_lock()
        woken.acquire()

        def arrived(_oid: bytes, _entry: ObjectEntry) -> None:
            woken.release()  # once: complete() takes the callbacks as it runs them

        if not self.on_ready(oid, arrived):
            return {oid}
        if woken.acquire(True, -1 if timeout is None else timeout):
            return {oid}
        self.remove_callback(oid, arrived)
        entry = self.entries.get(oid)  # it may have arrived since the timeout
        return {oid} if entry is not None and entry.kind is not None else set()

    def not_ready(self, ids: list[bytes]) -> list[bytes]:
        """The ids among ``ids`` not ready yet, in order (an id given twice is there
        twice: wait() counts it once). Raises UnknownObject for an id the table does not know."""
        if self.done.issuperset(ids):
            return []
        pending = self.pending
        if pending.issuperset(ids):
            return ids
        self._check_known(ids)
        return list(filter(pending.__contains__, ids))

    def _check_known(self, ids: list[bytes]) -> None:
        """Raise UnknownObject for the first id neither pending nor ready."""
        done, pending = self.done, self.pending
        unknown = next(itertools.filterfalse(pending.__contains__, itertools.filterfalse(done.__contains__, ids)), None)
        if unknown is not None and unknown not in self.entries:  # in neither set only while being created
            raise UnknownObject(unknown)

    def wait(self, ids: list[bytes], num_ready: int, timeout: float | None) -> Collection[bytes]:
        """Block the calling thread until ``num_ready`` of ``ids`` are ready or the
        timeout passes; return ready ones: ``ids`` itself when all are, the first
        ``num_ready`` when those are (wait() takes the first ready ones in order),
        else a set of all of them. An id given twice counts once. Raises
        UnknownObject, at once, for an id the table does not know.

        Readiness is read from ``done`` and ``pending`` with C-level set operations,
        no Python code per id: a wait over 100k refs is a pass or two over them.
        """
        done = self.done
        if done.issuperset(ids):
            return ids  # all ready
        if self.pending.issuperset(ids):  # none ready
            if timeout == 0:
                return set()
            if len(ids) == 1:
                return self._wait_one(ids[0], timeout)  # a round trip's get()
            ready: set[bytes] = set()
        else:
            self._check_known(ids)
            if num_ready < len(ids) and done.issuperset(ids[:num_ready]):
                return set(ids[:num_ready])
            # ``kind`` is set before an id enters ``done``, so what is ready stays ready.
            ready = set(filter(done.__contains__, ids))
        if len(ready) >= num_ready or timeout == 0:
            return ready
        pending = [oid for oid in dict.fromkeys(ids) if oid not in ready]
        if not pending:
            return ready
        num_ready = min(num_ready, len(ready) + len(pending))  # duplicates asked for more than exist
        # A bare lock, held until enough arrived, is the cheapest thing to block on: a
        # threading.Event is a Condition over a lock, a deque and one more lock per wait,
        # and its set() notifies through all of them; this is on every round trip.
        woken = _thread.allocate_lock()
        woken.acquire()
        came: set[bytes] = set()

        def arrived(oid: bytes, _entry: ObjectEntry) -> None:
            came.add(oid)
            if len(ready) + len(came) >= num_ready and woken.locked():
                try:
                    woken.release()
                except RuntimeError:  # two completing threads raced to release it
                    pass

        registered = []
        for oid in pending:
            if self.on_ready(oid, arrived):
                registered.append(oid)
            else:
                came.add(oid)
        if len(ready) + len(came) < num_ready:
            woken.acquire(True, -1 if timeout is None else timeout)
        for oid in registered:
            self.remove_callback(oid, arrived)
        return ready | came
