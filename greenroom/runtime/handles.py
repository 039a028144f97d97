"""Knowing which actor handles exist, so an actor with none left can end.

Each process counts its live handles per actor and tells the node when a
count goes 0 -> 1 or 1 -> 0 (``Runtime._handle_event``). A handle pickled
into a task's arguments is pinned by that task until it finishes (its
worker reports its own copy before then); one pickled into a stored object
(``put()`` or a returned value) pins the actor for good.
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Iterator

_collector: contextvars.ContextVar[list | None] = contextvars.ContextVar("greenroom_pickled_handles", default=None)


@contextlib.contextmanager
def pinning_handles() -> Iterator[list]:
    """Collect the ids of actor handles pickled inside this block."""
    pinned: list = []
    token = _collector.set(pinned)
    try:
        yield pinned
    finally:
        _collector.reset(token)


def note_pickled(actor_id: bytes) -> None:
    """Called by ActorHandle.__reduce__."""
    pinned = _collector.get()
    if pinned is not None:
        pinned.append(actor_id)


class HandleCounts:
    """Per-process live handle counts; reports transitions through ``report(actor_id, delta)``."""

    def __init__(self, report) -> None:
        self.counts: dict[bytes, int] = {}
        self.report = report

    def added(self, actor_id: bytes) -> None:
        n = self.counts.get(actor_id, 0)
        self.counts[actor_id] = n + 1
        if n == 0:
            self.report(actor_id, 1)

    def removed(self, actor_id: bytes) -> None:
        n = self.counts.get(actor_id, 0) - 1
        if n <= 0:
            self.counts.pop(actor_id, None)
            self.report(actor_id, -1)
        else:
            self.counts[actor_id] = n
