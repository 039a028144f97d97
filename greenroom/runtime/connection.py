"""A worker's message I/O on its socket to the node.

``Connection`` is blocking and single-threaded: messages are read and decoded
(wire.decode) one at a time; one that arrives while the worker waits for
something else (a reply to its request) waits in ``inbox``; a RECALL is
answered at once (see node_pipeline.py). ``ThreadedConnection`` (threaded and
async actors) has a reader thread: replies resolve futures, calls go to a
dispatcher, so any thread may block in ``get()``. Both pass a CancelCall to
``on_cancel`` as soon as they read it.
"""

from __future__ import annotations

import concurrent.futures
import socket
import threading
from collections import deque
from typing import Any

from greenroom import exceptions
from greenroom.runtime import serialization, wire


class NodeGone(Exception):
    """The node closed the socket: the worker should exit quietly."""


class Connection:
    """Blocking message I/O on the worker's socket."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.unpacker = serialization.stream_unpacker()
        self.inbox: deque[Any] = deque()  # decoded messages that arrived while waiting for a reply
        self._next_request = 0
        self.starting: wire.Exec | None = None  # the EXEC being started (see next_task)
        self.waited = False  # the last recv() had to wait for data
        self.on_cancel: Any = lambda task_id: None  # a CancelCall arrived (set by the runtime)

    def send(self, msg: tuple) -> None:
        self.sock.sendall(serialization.pack(msg))

    def _read(self) -> Any:
        while True:
            msg = self._next_decoded()
            if type(msg) is not wire.CancelCall:
                return msg
            self._cancel(msg.task_id)

    def _cancel(self, task_id: bytes) -> None:
        """A CancelCall: a call still waiting here is dropped (answered cancelled, never run);
        a running one is told (``on_cancel``: is_canceled() turns True)."""
        for msg in self.inbox:
            if type(msg) is wire.ActorCall and msg.task_id == task_id:
                self.inbox.remove(msg)
                error = exceptions.TaskCancelledError(f"actor call {msg.name!r} was cancelled")
                self.send(wire.Done(task_id, wire.SYSTEM_ERROR, [serialization.dumps(error)], [], False, []))
                return
        self.on_cancel(task_id)

    def _next_decoded(self) -> Any:
        for msg in self.unpacker:
            return wire.decode(msg)
        self.waited = True
        while True:
            data = self.sock.recv(1 << 18)
            if not data:
                raise NodeGone()
            self.unpacker.feed(data)
            for msg in self.unpacker:
                return wire.decode(msg)

    def poll(self, read: bool = True) -> None:
        """Take in what has arrived, without waiting (``read``: also what the socket holds, not
        only what was read already). RECALLs and CancelCalls are acted on at once; the rest
        waits in ``inbox``. A sync actor's is_canceled() looks here."""
        if read:
            try:
                data = self.sock.recv(1 << 18, socket.MSG_DONTWAIT)
            except BlockingIOError:
                data = None
            if data == b"":
                raise NodeGone()
            if data:
                self.unpacker.feed(data)
        for msg in self.unpacker:
            msg = wire.decode(msg)
            if type(msg) is wire.Recall:
                self.recall(msg.task_id)
            elif type(msg) is wire.CancelCall:
                self._cancel(msg.task_id)
            else:
                self.inbox.append(msg)

    def recv(self) -> Any:
        self.waited = False
        if self.inbox:
            return self.inbox.popleft()
        return self._read()

    def next_task(self, msg: wire.Exec, look: bool = False) -> wire.Exec | None:
        """``msg``, an EXEC about to start, unless a RECALL that has already arrived drops it.

        A task the node sent ahead can be recalled (cancelled) while the one
        before it runs; the RECALL then waits in the socket behind its EXEC. So
        does the RECALL the node sends, before its SIGINT, when it cancels a task
        the worker may not have started yet (``look``: a SIGINT came).
        """
        self.starting = msg
        self.poll(read=look or not self.waited)  # it was waiting for us: what came after may be a RECALL
        msg, self.starting = self.starting, None
        return msg

    def request(self, op: str, args: Any) -> wire.Reply:
        """Send a request and block until its reply."""
        self._next_request += 1
        rid = self._next_request
        self.send(wire.Request(rid, op, args))
        while True:
            msg = self._read()
            if type(msg) is wire.Reply and msg.request_id == rid:
                return msg
            if type(msg) is wire.Recall:
                self.recall(msg.task_id)
            else:
                self.inbox.append(msg)

    def recall(self, task_id: bytes) -> None:
        """Drop a task the node sent ahead, if it has not started; say which it was."""
        if self.starting is not None and self.starting.task_id == task_id:
            self.starting = None
            self.send(wire.Recalled(task_id, True))
            return
        for msg in self.inbox:
            if type(msg) is wire.Exec and msg.task_id == task_id:
                self.inbox.remove(msg)
                self.send(wire.Recalled(task_id, True))
                return
        self.send(wire.Recalled(task_id, False))


class ThreadedConnection:
    """Message I/O with a reader thread: replies resolve futures, calls go to ``dispatch``."""

    def __init__(self, sock: socket.socket, unpacker: Any, inbox: list) -> None:
        self.sock = sock
        self.unpacker = unpacker  # carries over bytes already read by the simple loop
        self.backlog = list(inbox)
        self.lock = threading.Lock()
        self.pending: dict[int, concurrent.futures.Future] = {}
        self._next = 0
        self.dispatch: Any = None
        self.on_cancel: Any = lambda task_id: None  # a CancelCall arrived (set by the runtime)
        self.closed = threading.Event()

    def send(self, msg: tuple) -> None:
        data = serialization.pack(msg)
        with self.lock:
            self.sock.sendall(data)

    def request_future(self, op: str, args: Any) -> concurrent.futures.Future:
        fut: concurrent.futures.Future = concurrent.futures.Future()
        with self.lock:
            self._next += 1
            rid = self._next
            self.pending[rid] = fut
            self.sock.sendall(serialization.pack(wire.Request(rid, op, args)))
        return fut

    def request(self, op: str, args: Any) -> wire.Reply:
        return self.request_future(op, args).result()

    def start(self, dispatch: Any) -> None:
        self.dispatch = dispatch
        threading.Thread(target=self._read_loop, name="actor-reader", daemon=True).start()

    def _handle(self, msg: Any) -> None:
        if type(msg) is wire.Reply:
            fut = self.pending.pop(msg.request_id, None)
            if fut is not None:
                fut.set_result(msg)
        elif type(msg) is wire.CancelCall:
            self.on_cancel(msg.task_id)
        else:
            self.dispatch(msg)

    def _read_loop(self) -> None:
        try:
            for msg in self.backlog:
                self._handle(msg)
            for msg in self.unpacker:
                self._handle(wire.decode(msg))
            while True:
                data = self.sock.recv(1 << 18)
                if not data:
                    break
                self.unpacker.feed(data)
                for msg in self.unpacker:
                    self._handle(wire.decode(msg))
        except OSError:
            pass
        finally:
            for fut in self.pending.values():
                fut.set_exception(exceptions.RaySystemError("the greenroom node went away"))
            self.closed.set()
