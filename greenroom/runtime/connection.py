"""A worker's blocking message I/O on its socket to the node.

Messages are read and decoded (wire.decode) one at a time. A message that
arrives while the worker waits for something else (a reply to its request)
waits in ``inbox``; a RECALL is answered at once (see node_pipeline.py).
"""

from __future__ import annotations

import socket
from collections import deque
from typing import Any

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

    def send(self, msg: tuple) -> None:
        self.sock.sendall(serialization.pack(msg))

    def _read(self) -> Any:
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

    def recv(self) -> Any:
        self.waited = False
        if self.inbox:
            return self.inbox.popleft()
        return self._read()

    def next_task(self, msg: wire.Exec) -> wire.Exec | None:
        """``msg``, an EXEC about to start, unless a RECALL that has already arrived drops it.

        A task the node sent ahead can be recalled (cancelled) while the one
        before it runs; the RECALL then waits in the socket behind its EXEC.
        """
        self.starting = msg
        if not self.waited:  # it was waiting for us: what came after it may be a RECALL
            try:
                data = self.sock.recv(1 << 18, socket.MSG_DONTWAIT)
            except BlockingIOError:
                data = None
            if data == b"":
                raise NodeGone()
            if data:
                self.unpacker.feed(data)
        for queued in self.unpacker:
            queued = wire.decode(queued)
            if type(queued) is wire.Recall:
                self.recall(queued.task_id)
            else:
                self.inbox.append(queued)
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
