"""A client of a head that only reads: ``greenroom status`` (not a job; it owns nothing)."""

from __future__ import annotations

import os
from typing import Any

from greenroom.runtime import serialization, wire
from greenroom.runtime.attached import connect
from greenroom.runtime.connection import ThreadedConnection
from greenroom.runtime.node_clients import OBSERVER


class Observer:
    """Named node API calls over the head's socket, nothing else."""

    def __init__(self, path: str) -> None:
        sock, self.welcome, fds, unpacker = connect(path, OBSERVER, None)
        for fd in fds:  # an observer maps no objects
            os.close(fd)
        self.conn = ThreadedConnection(sock, unpacker, [])
        self.conn.start(lambda msg: None)

    def call(self, method: str, *args: Any) -> Any:
        reply = self.conn.request(wire.OP_CALL, wire.CallArgs(method, serialization.dumps(args)))
        if not reply.ok:
            raise serialization.loads(reply.payload)
        return reply.payload

    def close(self) -> None:
        self.conn.sock.close()


def collect(path: str) -> dict[str, Any]:
    """Everything ``status`` shows, from the head at ``path``."""
    observer = Observer(path)
    try:
        return observer.call("status")
    finally:
        observer.close()
