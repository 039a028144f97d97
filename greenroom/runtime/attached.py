"""A driver attached to a head: the API over the head's Unix socket (node_clients.py).

It speaks the workers' protocol (``ClientRuntime``), with what a driver needs
beyond a worker: a reader thread so any thread may block in ``get()`` and
``ref.future()`` does not; task submission that does not wait for a reply (an
infeasible request is checked here, once per shape, before it is sent); the
object store mapped from the file descriptor the head sent, so large values
travel without a copy; and workers' output, forwarded by the head, printed here.
"""

from __future__ import annotations

import concurrent.futures
import os
import socket
import sys
import threading
from typing import Any

from greenroom import exceptions
from greenroom.runtime import object_store, serialization, wire
from greenroom.runtime.connection import ThreadedConnection
from greenroom.runtime.node_clients import DRIVER
from greenroom.runtime.object_ref import ObjectRef
from greenroom.runtime.runtime_base import decode
from greenroom.runtime.task_spec import TaskSpec
from greenroom.runtime.worker import WorkerRuntime

CONNECT_TIMEOUT_S = 10.0
FLUSH_AFTER_S = 0.05  # dropped refs reach the head at most this late


def connect(path: str, role: str, namespace: str | None) -> tuple[socket.socket, wire.Welcome, list[int], Any]:
    """Attach to the head at ``path``: (socket, its Welcome, the fds sent with it, the unpacker).

    Raises ConnectionError, with what to do, when no head answers there.
    """
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(CONNECT_TIMEOUT_S)
    try:
        sock.connect(path)
        here = [p for p in sys.path if p]
        if os.getcwd() not in here:
            here.append(os.getcwd())
        sock.sendall(serialization.pack(wire.Attach(wire.PROTOCOL_VERSION, os.getpid(), namespace, here, role)))
        unpacker = serialization.stream_unpacker()
        fds: list[int] = []
        while True:
            data, got, _flags, _addr = socket.recv_fds(sock, 1 << 16, 1)
            fds += got
            if not data:
                raise ConnectionError(f"the greenroom head at {path} closed the connection while attaching")
            unpacker.feed(data)
            for raw in unpacker:
                msg = wire.decode(raw)
                if isinstance(msg, wire.Refused):
                    raise ConnectionError(f"the greenroom head at {path} refused this driver: {msg.reason}")
                sock.settimeout(None)
                return sock, msg, fds, unpacker
    except (FileNotFoundError, ConnectionRefusedError, ConnectionResetError, BrokenPipeError) as e:
        sock.close()  # no head, or one that is dying
        raise ConnectionError(
            f"no greenroom head is running at {path} ({e.strerror}); start one with `greenroom start --head`"
        ) from None
    except TimeoutError:
        sock.close()
        raise ConnectionError(
            f"the greenroom head at {path} did not answer within {CONNECT_TIMEOUT_S:.0f} s; "
            "check it with `greenroom status`"
        ) from None
    except BaseException:
        sock.close()
        raise


class AttachedRuntime(WorkerRuntime):
    """The public API in a driver attached to a head."""

    def __init__(self, path: str, namespace: str | None, log_to_driver: bool = True) -> None:
        sock, welcome, fds, unpacker = connect(path, DRIVER, namespace)
        conn = ThreadedConnection(sock, unpacker, [])
        super().__init__(conn, welcome.process)
        self.address = path
        self.head_pid = welcome.head_pid
        self.log_to_driver = log_to_driver
        self.set_job(welcome.job)
        self.arena = object_store.Arena(fds[0], welcome.store_size) if fds else None
        for extra in fds[1:]:
            os.close(extra)
        self._feasible: set[Any] = set()
        conn.start(self._on_message)
        threading.Thread(target=self._flush_dropped, name="greenroom-attached-flush", daemon=True).start()

    def _on_message(self, msg: Any) -> None:
        if type(msg) is wire.Output and self.log_to_driver:
            stream = sys.stdout if msg.stream == 1 else sys.stderr
            try:
                stream.write("".join(f"(pid={msg.pid}) {line}\n" for line in msg.lines))
                stream.flush()
            except (ValueError, OSError):
                pass

    def _flush_dropped(self) -> None:
        """A worker's dropped refs ride on its next message; a driver may send none for a while,
        and the head would keep what it dropped. This thread sends them (never __del__, which
        may run mid-send, and takes no lock but the events' own)."""
        while not self.conn.closed.wait(FLUSH_AFTER_S):
            if self._losses:
                try:
                    self.flush_events_after()
                except OSError:  # the head went away; the next call says so
                    return

    def _gone(self) -> exceptions.RaySystemError:
        return exceptions.RaySystemError(
            f"the greenroom head (pid={self.head_pid}, {self.address}) went away: it was stopped or it "
            "died. Start it again (`greenroom start --head`) and call greenroom.init(address=\"auto\")"
        )

    def _request(self, op: str, args: Any) -> Any:
        if self.conn.closed.is_set():
            raise self._gone()
        try:
            return super()._request(op, args)
        except exceptions.RaySystemError as e:
            if self.conn.closed.is_set() or isinstance(e.__cause__, OSError):
                raise self._gone() from e
            raise

    def flush_events_before(self) -> None:
        try:
            super().flush_events_before()
        except OSError:
            raise self._gone() from None

    def _send(self, msg: tuple) -> None:
        try:
            self.conn.send(msg)
        except OSError:
            raise self._gone() from None

    def _submit(self, spec: TaskSpec) -> None:
        shape = (spec.request, spec.placement)
        if shape not in self._feasible:
            reason = self.call("infeasible_reason", spec.request, spec.placement)
            if reason:
                raise exceptions.TaskUnschedulableError(f"task {spec.name!r}: {reason}")
            if spec.placement is None:  # a group's bundles can go away; the node's can't
                self._feasible.add(shape)
        self.flush_events_before()
        self._send(wire.Request(0, wire.OP_SUBMIT, spec.to_wire()))  # pipelined: no reply

    def future(self, ref: ObjectRef) -> concurrent.futures.Future:
        out: concurrent.futures.Future = concurrent.futures.Future()
        self.flush_events_before()
        reply = self.conn.request_future(wire.OP_GET, wire.GetArgs([ref.id], None))

        def resolve(done: concurrent.futures.Future) -> None:
            try:
                msg = done.result()
                if not msg.ok:
                    raise serialization.loads(msg.payload)
                kind, payload, name = msg.payload[0]
                out.set_result(decode(kind, payload, name, self))
            except BaseException as e:
                out.set_exception(e)

        reply.add_done_callback(resolve)
        return out

    def shutdown(self) -> None:
        """Detach: the head ends this job's work and goes on serving the others."""
        try:
            self.flush_events_before()
            self.flush_events_after()
        except OSError:
            pass
        try:
            self.conn.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.conn.closed.wait(5)
        self.conn.sock.close()
        if self.arena is not None:
            self.arena.close()
