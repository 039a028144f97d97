"""Knowing which actor handles and ObjectRefs exist, so what nothing refers to can go.

Each process counts its live handles per actor and its live ObjectRefs per
object, and tells the node when a count goes 0 -> 1 or 1 -> 0
(``Runtime._reference_event``). A handle or ref pickled into a task's
arguments is pinned by that task until it finishes (the worker reports its
own copy before then); one pickled into a stored object (``put()`` or a
returned value) is pinned by that object while it exists (actors: for good).
"""

from __future__ import annotations

import contextlib
import contextvars
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field

ACTOR = "a"
OBJECT = "o"
STREAM = "s"  # a streaming generator was dropped: [STREAM, task id, how many items it took]


@dataclass(slots=True)
class Pickled:
    """The actor handles and ObjectRefs seen while pickling one value."""

    actors: list = field(default_factory=list)
    objects: list = field(default_factory=list)


_collector: contextvars.ContextVar[Pickled | None] = contextvars.ContextVar("greenroom_pickled_refs", default=None)


@contextlib.contextmanager
def collecting() -> Iterator[Pickled]:
    """Collect the ids of actor handles and ObjectRefs pickled inside this block."""
    seen = Pickled()
    token = _collector.set(seen)
    try:
        yield seen
    finally:
        _collector.reset(token)


def note_pickled(actor_id: bytes) -> None:
    """Called by ActorHandle.__reduce__."""
    seen = _collector.get()
    if seen is not None:
        seen.actors.append(actor_id)


def note_pickled_ref(object_id: bytes) -> None:
    """Called by ObjectRef.__reduce__."""
    seen = _collector.get()
    if seen is not None:
        seen.objects.append(object_id)


class Counts:
    """Per-process live counts; reports transitions through ``report(id, delta)``.

    Thread-safe, and re-entrant: refs die in whatever thread the garbage collector
    runs, also in the middle of an update here.
    """

    def __init__(self, report) -> None:
        self.counts: dict[bytes, int] = {}
        self.report = report
        self._lock = threading.RLock()

    def created(self, key: bytes) -> None:
        """A new id the node already counts this process as holding: no report."""
        with self._lock:
            self.counts[key] = self.counts.get(key, 0) + 1

    def added(self, key: bytes) -> None:
        with self._lock:
            n = self.counts.get(key, 0)
            self.counts[key] = n + 1
        if n == 0:
            self.report(key, 1)

    def removed(self, key: bytes) -> None:
        with self._lock:
            n = self.counts.get(key, 0) - 1
            if n <= 0:
                self.counts.pop(key, None)
            else:
                self.counts[key] = n
        if n <= 0:
            self.report(key, -1)
