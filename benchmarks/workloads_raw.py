"""Raw references, no runtime at all: what this machine can do at best.

A 64-byte round trip between two Python processes over an AF_UNIX socketpair,
with blocking sockets and with uvloop (an asyncio protocol on both ends), and
numpy's copy bandwidth. They set the floor the runtimes' figures are read against.
"""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing
import socket
import time

from harness import FLOATS_PER_MB, latencies, latency_stats, repeat, workload

MESSAGE = b"x" * 64


def _recv_exactly(sock: socket.socket, size: int) -> bytes:
    buf = b""
    while len(buf) < size:
        chunk = sock.recv(size - len(buf))
        if not chunk:
            raise EOFError("echo peer closed the socket")
        buf += chunk
    return buf


def _blocking_echo(sock: socket.socket) -> None:
    while data := sock.recv(65536):
        sock.sendall(data)


class _EchoProtocol(asyncio.Protocol):
    def __init__(self, closed: asyncio.Future):
        self.closed = closed

    def connection_made(self, transport):
        self.transport = transport

    def data_received(self, data):
        self.transport.write(data)

    def connection_lost(self, exc):
        self.closed.set_result(None)


async def _serve_one(sock: socket.socket) -> None:
    loop = asyncio.get_running_loop()
    closed = loop.create_future()
    await loop.connect_accepted_socket(lambda: _EchoProtocol(closed), sock)
    await closed


def _uvloop_echo(sock: socket.socket) -> None:
    import uvloop

    uvloop.run(_serve_one(sock))


@contextlib.contextmanager
def echo_peer(serve):
    """A forked process running ``serve(sock)`` on one end of a socketpair; yields the other end."""
    ours, theirs = socket.socketpair()
    proc = multiprocessing.get_context("fork").Process(target=serve, args=(theirs,), daemon=True)
    proc.start()
    theirs.close()
    try:
        yield ours
    finally:
        ours.close()  # the peer reads EOF and exits
        proc.join(5)


@workload("raw_socket_round_trip", "raw", libs=("raw",), n=2_000, n_quick=200)
def raw_socket_round_trip(lib: str, n: int, reps: int, spawned_at: float = 0.0):
    """``n`` 64-byte round trips over a blocking socketpair to another process: median and p99."""

    def round_trip(sock):
        sock.sendall(MESSAGE)
        _recv_exactly(sock, len(MESSAGE))

    with echo_peer(_blocking_echo) as sock:
        return repeat(lambda k: latencies(lambda i: round_trip(sock), k), n, reps)


class _ClientProtocol(asyncio.Protocol):
    """Sends MESSAGE and waits until all of it has come back, ``k`` times in a row."""

    def connection_made(self, transport):
        self.transport, self.buf, self.reply = transport, bytearray(), None

    def data_received(self, data):
        self.buf += data
        if len(self.buf) >= len(MESSAGE):
            del self.buf[: len(MESSAGE)]
            self.reply.set_result(None)

    async def latencies(self, k: int):
        lat = []
        for _ in range(k):
            self.reply = asyncio.get_running_loop().create_future()
            t0 = time.perf_counter()
            self.transport.write(MESSAGE)
            await self.reply
            lat.append((time.perf_counter() - t0) * 1e6)
        return latency_stats(lat)


@workload("raw_uvloop_round_trip", "raw", libs=("raw",), n=2_000, n_quick=200)
def raw_uvloop_round_trip(lib: str, n: int, reps: int, spawned_at: float = 0.0):
    """``n`` 64-byte round trips over a socketpair, uvloop protocols on both ends: median and p99."""
    import uvloop

    with echo_peer(_uvloop_echo) as sock:
        loop = uvloop.new_event_loop()
        transport, client = loop.run_until_complete(loop.connect_accepted_socket(_ClientProtocol, sock))
        try:
            return repeat(lambda k: loop.run_until_complete(client.latencies(k)), n, reps)
        finally:
            transport.close()
            loop.close()


@workload("raw_copy", "raw", libs=("raw",), n=100, n_quick=10)
def raw_copy(lib: str, n: int, reps: int, spawned_at: float = 0.0):
    """numpy copy of an ``n`` MB float64 array: into memory already touched (the
    bandwidth floor) and into a fresh allocation (what a copying get pays), GB/s."""
    import numpy as np

    def once(mb):
        src = np.arange(mb * FLOATS_PER_MB, dtype=np.float64)
        dst = np.ones_like(src)  # touched: no page faults in the copy
        t0 = time.perf_counter()
        np.copyto(dst, src)
        t1 = time.perf_counter()
        src.copy()
        t2 = time.perf_counter()
        return {
            "copy": (src.nbytes / 1e9 / (t1 - t0), "GB/s"),
            "copy_fresh": (src.nbytes / 1e9 / (t2 - t1), "GB/s"),
        }

    return repeat(once, n, reps)
