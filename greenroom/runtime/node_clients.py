"""Attached drivers as the node sees them: the head's socket, their jobs, their output.

A head (head.py) listens on a Unix socket. A client's first message is
``Attach`` with this node's protocol version; the node answers ``Welcome`` with
the client's process id and job, and the object store's file descriptor beside
it (SCM_RIGHTS), so large values still pass through shared memory without a
copy. From then on a driver speaks the workers' requests (``Request``,
``Handles``): the node serves both the same way. Anything else, a frame that is
not msgpack, one over ``MAX_FRAME`` or a message a driver may not send, closes
that connection with a logged reason; the node goes on serving the others.

A driver that goes away (exit, SIGKILL) is cleaned up like a worker that died:
its queued and running tasks are cancelled, the actors and placement groups it
created (not detached) end, and the refs it held are dropped (``on_lost``).
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import struct
from collections.abc import Callable
from typing import Any

import msgpack

from greenroom.runtime import serialization, wire

logger = logging.getLogger("greenroom.head")

MAX_FRAME = 64 << 20  # bytes a client may have in flight in one message
DRIVER, OBSERVER = "driver", "observer"
_MAY_SEND = (wire.Request, wire.Handles)
_OWNER = struct.Struct("<I")


def task_owner(task_id: bytes) -> int:
    """The process that submitted a task: its id is the first field of the task id."""
    return _OWNER.unpack_from(task_id)[0]


def job_id_hex(number: int) -> str:
    """Ray's job id format: a 4-byte little-endian counter, in hex ("01000000" is job 1)."""
    return number.to_bytes(4, "little").hex()


def job_number(job_id: str) -> int:
    """The counter of a job id (``job_id_hex``'s inverse)."""
    return int.from_bytes(bytes.fromhex(job_id), "little")


class ClientConn(asyncio.Protocol):
    """One attached client's connection; the attributes a node reads of a requester
    (``task``, ``actor``, ``next``) are None: a driver runs no work."""

    def __init__(self, clients: Clients) -> None:
        self.clients = clients
        self.id = 0  # its process id on the node, once attached
        self.pid: int | None = None
        self.role = ""
        self.job: dict = {}
        self.task = self.actor = self.next = None
        self.ready = False
        self.alive = True
        self.transport: asyncio.Transport | None = None
        self.unpacker = msgpack.Unpacker(raw=False, use_list=True, max_buffer_size=MAX_FRAME)

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        try:
            self.unpacker.feed(data)
            for raw in self.unpacker:
                if not self.ready:
                    self.clients.attach(self, raw)
                    continue
                msg = wire.decode(raw)
                if not isinstance(msg, _MAY_SEND):
                    raise ValueError(f"a driver may not send {type(msg).__name__}")
                self.clients.on_message(self, msg)
        except msgpack.BufferFull:
            self.close(f"a message over {MAX_FRAME >> 20} MiB")
        except Exception as e:  # garbage or a hostile frame: this connection ends, the head goes on
            self.close(f"a bad message ({type(e).__name__}: {e!s:.200})")

    def connection_lost(self, exc: Exception | None) -> None:
        self.alive = False
        self.clients.lost(self)

    def send(self, msg: tuple) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(serialization.pack(msg))

    def close(self, reason: str) -> None:
        if self.transport is not None and not self.transport.is_closing():
            logger.warning("closing the connection of client pid=%s (process %s): %s", self.pid, self.id, reason)
            self.transport.abort()

    def kill(self) -> None:  # what cancel(force=True) does to a requester; a driver is not ours to kill
        pass


class Clients:
    """The attached clients of a head: their ids, jobs and output."""

    def __init__(self, *, next_id: Callable[[], int], job: dict, store: Any, on_message: Callable,
                 on_lost: Callable[[ClientConn], None], add_path: Callable[[list], None]) -> None:  # fmt: skip
        self.next_id = next_id  # process ids shared with workers: a driver's task ids never collide
        self.node_job = job
        self.store = store  # the Arena: its fd goes to each client
        self.on_message = on_message
        self.on_lost = on_lost
        self.add_path = add_path
        self.conns: dict[int, ClientConn] = {}
        self._jobs = 1  # job 1 is the head's own
        self.shared = False  # a driver has attached: work may run for other jobs than the node's
        self.server: asyncio.AbstractServer | None = None

    async def listen(self, path: str) -> None:
        """Serve clients on a Unix socket at ``path``, readable by this user only."""
        loop = asyncio.get_running_loop()
        old = os.umask(0o177)  # the socket is created 0600, never briefly open to others
        try:
            self.server = await loop.create_unix_server(lambda: ClientConn(self), path)
        finally:
            os.umask(old)
        os.chmod(path, 0o600)

    def close(self) -> None:
        if self.server is not None:
            self.server.close()
            self.server = None
        for conn in list(self.conns.values()):
            if conn.transport is not None:
                conn.transport.abort()

    def attach(self, conn: ClientConn, raw: Any) -> None:
        msg = None
        if isinstance(raw, list) and raw and raw[-1] == wire.ATTACH and len(raw) == len(wire.Attach._fields):
            msg = wire.Attach._make(raw)
        if msg is None or msg.version != wire.PROTOCOL_VERSION or msg.role not in (DRIVER, OBSERVER):
            said = f"protocol version {msg.version}" if msg is not None else f"no ATTACH first ({raw!r:.80})"
            reason = (
                f"this greenroom head speaks protocol version {wire.PROTOCOL_VERSION}, the client {said}: "
                "attach with the greenroom the head runs (pip show greenroom)"
            )
            conn.send(wire.Refused(reason))
            conn.close(reason)
            return
        conn.id = self.next_id()
        conn.pid = msg.pid
        conn.role = msg.role
        if msg.role == DRIVER:
            self._jobs += 1
            self.shared = True
            namespace = msg.namespace or f"anonymous-{os.urandom(4).hex()}"
            conn.job = {**self.node_job, "namespace": namespace, "job_id": job_id_hex(self._jobs)}
            self.add_path([str(p) for p in msg.path if isinstance(p, str)])
        else:
            conn.job = dict(self.node_job)
        welcome = serialization.pack(wire.Welcome(conn.id, conn.job, self.store.size, os.getpid()))
        sock = socket.socket(fileno=os.dup(conn.transport.get_extra_info("socket").fileno()))
        try:  # nothing else was written yet: the fd goes with the first bytes
            socket.send_fds(sock, [welcome], [self.store.fd])
        finally:
            sock.close()
        conn.ready = True
        self.conns[conn.id] = conn

    def lost(self, conn: ClientConn) -> None:
        if self.conns.pop(conn.id, None) is not None and conn.role == DRIVER:
            self.on_lost(conn)

    def drivers(self) -> list[dict]:
        """The attached drivers: process id, pid, job id, namespace."""
        return [
            {"process": c.id, "pid": c.pid, "job_id": c.job["job_id"], "namespace": c.job["namespace"]}
            for c in self.conns.values() if c.role == DRIVER
        ]  # fmt: skip

    def send_output(self, process: int, stream: int, pid: int | None, lines: list[str]) -> bool:
        """Forward a worker's lines to the driver ``process``; False if it is not attached."""
        conn = self.conns.get(process)
        if conn is None:
            return False
        conn.send(wire.Output(stream, pid or 0, lines))
        return True
