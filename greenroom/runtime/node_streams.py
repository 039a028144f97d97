"""Generator tasks' streams on the node: items stored as they come, the caller's progress,
backpressure, and what a dropped generator leaves behind.

The stream's rules are the pure ``StreamState`` (stream_state.py, which also explains the
slots); this class carries them out on the object table:

    open        at submission (any thread): the first slot, pending, held by the caller
    on_yielded  a worker's YIELDED: store the item, open the next slot
    raised      the task raised: its error becomes the last item (Ray's order)
    _ended      the completion object is stored (by any path: done, crash, cancel,
                shutdown): the pending slot says END, or the task's error
    take        the caller took a slot: backpressure may let the producer go on
    drop        the caller's generator is gone: release the slots it never took

``num_returns="dynamic"`` items are simpler: the worker holds a ref to each (they live in
its result, a DynamicObjectRefGenerator), so they are stored like its put()s. Loop thread
only, except ``open``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from greenroom import exceptions
from greenroom.runtime import serialization, wire
from greenroom.runtime.node_objects import ObjectLifetimes
from greenroom.runtime.object_ref import object_id
from greenroom.runtime.stream_state import CONTINUE, RESUME, RESUME_STOP, STOP, WAIT, StreamState
from greenroom.runtime.worker_pool import WorkerProc

_NONE = serialization.dumps(None)  # the completion's value when the generator raised (its error is an item)


@dataclass(slots=True, eq=False)
class Stream:
    task_id: bytes
    name: str
    holder: int  # the caller's process: it holds the slots it has not taken
    state: StreamState
    producer: tuple | None = None  # (worker, request id) of a producer waiting on backpressure


class Streams:
    """Owns the node's streams; see the module docstring."""

    def __init__(self, lifetimes: ObjectLifetimes, *, give_back: Callable[[WorkerProc], None]) -> None:
        self.lifetimes = lifetimes
        self.objects = lifetimes.objects
        self.give_back = give_back  # a producer about to wait lends out its pipelined follower
        self.streams: dict[bytes, Stream] = {}

    def open(self, task_id: bytes, name: str, holder: int, backpressure: int) -> None:
        """A streaming call was submitted (its completion object exists already, held by the
        caller): make its first slot and watch the completion. Any thread: the driver opens a
        stream before it posts the call."""
        stream = Stream(task_id, name, holder, StreamState(backpressure))
        self.streams[task_id] = stream
        self.lifetimes.create_held([object_id(task_id, 1)], name, holder)
        completion = object_id(task_id, 0)
        if not self.objects.on_ready(completion, lambda _oid, entry: self._ended(stream, entry)):
            self._ended(stream, self.objects.get(completion))  # failed at submission (a dead actor)

    # -- the producer ----------------------------------------------------------------------
    def on_yielded(self, w: WorkerProc, msg: wire.Yielded) -> None:
        oid = object_id(msg.task_id, msg.index)
        if msg.held:  # num_returns="dynamic": the worker's, like a put()
            self.lifetimes.put(w.id, oid, msg.kind, msg.payload, msg.contains)
            return
        self.lifetimes.claim(w.id, [msg.payload])
        stream = self.streams.get(msg.task_id)
        if stream is None or not stream.state.yielded(msg.index):
            self.lifetimes.discard(msg.payload)
            return
        self._store(stream, msg.index, msg.kind, msg.payload, msg.contains)

    def _store(self, stream: Stream, index: int, kind: int, payload: Any, contains: list | None) -> None:
        # The next slot first, so a caller woken by this one finds it.
        self.lifetimes.create_held([object_id(stream.task_id, index + 1)], stream.name, stream.holder)
        oid = object_id(stream.task_id, index)
        self.objects.complete(oid, kind, payload)
        if contains:
            self.lifetimes.set_contains([oid], contains)

    def raised(self, task_id: bytes, payloads: list) -> tuple[int, list]:
        """A streaming call's final TASK_ERROR: store it as its last item; its completion is
        then a plain None, as in Ray. Returns the completion's (kind, payloads)."""
        stream = self.streams.get(task_id)
        if stream is None:
            return wire.TASK_ERROR, payloads
        index = stream.state.raised()
        if index is not None:
            self._store(stream, index, wire.TASK_ERROR, payloads[0], None)
        return wire.VALUE, [_NONE]

    def backpressure(self, w: WorkerProc, request_id: int, task_id: bytes, index: int) -> None:
        """A producer sent item ``index`` and may have to wait for the caller (OP_BACKPRESSURE)."""
        stream = self.streams.get(task_id)
        decision = CONTINUE if stream is None else stream.state.backpressure(index)
        if decision == WAIT:
            stream.producer = (w, request_id)
            self.give_back(w)
        elif decision == STOP:
            w.send(wire.Reply(request_id, False, _cancelled(stream)))
        else:
            w.send(wire.Reply(request_id, True, stream.state.allowed() if stream is not None else -1))

    def _answer_producer(self, stream: Stream, decision: str) -> None:
        if stream.producer is None or decision not in (RESUME, RESUME_STOP):
            return
        (w, request_id), stream.producer = stream.producer, None
        if decision == RESUME:
            w.send(wire.Reply(request_id, True, stream.state.allowed()))
        else:
            w.send(wire.Reply(request_id, False, _cancelled(stream)))

    def cancel(self, task_id: bytes) -> None:
        """``cancel()`` of a call: a producer waiting on backpressure stops."""
        stream = self.streams.get(task_id)
        if stream is not None:
            self._answer_producer(stream, stream.state.cancel())

    def _ended(self, stream: Stream, entry: Any) -> None:
        """The call's completion is stored: its pending slot becomes final."""
        stream.producer = None  # its worker is done (or dead)
        index = stream.state.end()
        if index is None:
            self.streams.pop(stream.task_id, None)
            return
        if entry.kind == wire.VALUE:
            self.objects.complete(object_id(stream.task_id, index), wire.END, b"")
        else:  # an error payload is always bytes, never a shared-memory block
            self.objects.complete(object_id(stream.task_id, index), entry.kind, entry.payload)

    # -- the caller ------------------------------------------------------------------------
    def take(self, task_id: bytes, index: int, peek: bool = False) -> int | None:
        """The kind of slot ``index`` if it is ready (None: not yet). Unless ``peek``, the caller
        takes it: it becomes an ObjectRef there (an END slot never does)."""
        entry = self.objects.get(object_id(task_id, index))
        if entry is None or entry.kind is None:
            return None
        if not peek and entry.kind != wire.END:
            self.taken(task_id, index)
        return entry.kind

    def holds_back(self, task_id: bytes) -> bool:
        """Whether the stream has backpressure, so the caller's progress must reach it (any
        thread: the limit never changes)."""
        stream = self.streams.get(task_id)
        return stream is not None and stream.state.backpressure_limit > 0

    def taken(self, task_id: bytes, index: int) -> None:
        """The caller took slot ``index`` (the driver posts this; workers go through ``take``)."""
        stream = self.streams.get(task_id)
        if stream is not None:
            self._answer_producer(stream, stream.state.take(index))

    def drop(self, process: int, task_id: bytes, taken: int) -> None:
        """The caller's generator was garbage-collected after taking ``taken`` slots."""
        stream = self.streams.get(task_id)
        if stream is None or stream.holder != process:
            return
        slots, decision = stream.state.drop(taken)
        for index in slots:
            oid = object_id(task_id, index)
            self.lifetimes.reference_event(process, oid, -1)
            entry = self.objects.get(oid)
            if entry is not None and entry.kind is None:  # the pending slot: nothing will fill it now
                self.objects.remove(oid)
        self._answer_producer(stream, decision)
        if stream.state.finished:
            del self.streams[task_id]

    def process_gone(self, process: int) -> None:
        """A worker process ended: the generators it consumed are gone with it."""
        for stream in list(self.streams.values()):  # list(): one step, while the driver may open more
            if stream.holder == process:
                self.drop(process, stream.task_id, stream.state.taken)


def _cancelled(stream: Stream) -> bytes:
    return serialization.dumps(exceptions.TaskCancelledError(f"generator task {stream.name!r} was cancelled"))
