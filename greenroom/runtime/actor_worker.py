"""The actor side of a worker process: construct the instance, run its method calls.

Three ways to run calls, picked at creation:
  sync, max_concurrency == 1   the worker's own loop runs calls one by one, in order
  sync, max_concurrency > 1    a reader thread hands calls to a thread pool
  async (any ``async def``)    a reader thread hands calls to an asyncio loop,
                               at most ``max_concurrency`` running at once
With a reader thread, API calls made inside methods (``get``, ``.remote()``)
wait on a future that the reader resolves, so any thread (or the event loop)
may block in ``get()`` without stopping replies from arriving.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import inspect
import socket
import sys
import threading
from typing import Any

from greenroom import exceptions
from greenroom.runtime import serialization, wire
from greenroom.runtime.connection import NodeGone
from greenroom.runtime.context import TaskContext, set_task_context


class ActorExit(BaseException):
    """Raised by ``exit_actor()``: ends the actor's process after this call."""


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


class Actor:
    """The instance and how to run calls on it (see the module docstring)."""

    def __init__(self, executor: Any, msg: wire.ActorInit) -> None:
        self.actor_id = msg.actor_id
        self.assigned = msg.assigned
        self.max_concurrency = msg.max_concurrency
        self.is_async = msg.is_async
        self.class_name = msg.class_name
        self.placement = msg.placement
        self.enforce = msg.enforce
        class_blob = msg.class_blob
        self.executor = executor
        executor.limits.apply(msg.enforce, msg.assigned)  # for its whole life
        set_task_context(self._context(self.actor_id[:12]))
        self.instance = None
        kind, payloads, _ = executor.load_and_call(
            self.actor_id, lambda: serialization.loads(class_blob), msg.args_blob, msg.deps,
            1, f"{self.class_name}.__init__", construct=True,
        )  # fmt: skip
        if kind == wire.VALUE:
            self.instance = executor.last_result
            payloads = [serialization.dumps(None)]
        executor.send_done(self.actor_id, kind, payloads, [])
        self.ok = kind == wire.VALUE

    def _context(self, task_id: bytes) -> TaskContext:
        return TaskContext(task_id, self.assigned, self.actor_id, self.placement, self.enforce)

    def run_call(self, msg: wire.ActorCall) -> None:
        set_task_context(self._context(msg.task_id))
        try:
            kind, payloads, contains = self.executor.load_and_call(
                msg.task_id, lambda: getattr(self.instance, msg.method), msg.args_blob, msg.deps,
                msg.num_returns, msg.name,
            )
        except ActorExit:
            self.executor.conn.send(wire.ActorExiting())
            raise
        self.executor.send_done(msg.task_id, kind, payloads, contains)

    async def run_call_async(self, msg: wire.ActorCall, limit: asyncio.Semaphore) -> None:
        async with limit:
            set_task_context(self._context(msg.task_id))
            kind, payloads, contains = await self.executor.load_and_call_async(
                msg.task_id, lambda: getattr(self.instance, msg.method), msg.args_blob, msg.deps,
                msg.num_returns, msg.name,
            )
            self.executor.send_done(msg.task_id, kind, payloads, contains)

    # -- the three ways to run -----------------------------------------------------------
    def serve(self, conn: Any) -> int:
        if not self.ok:
            return self._wait_exit(conn)
        if self.is_async:
            return self._serve_async(conn)
        if self.max_concurrency > 1:
            return self._serve_threaded(conn)
        return self._serve_sync(conn)

    def _wait_exit(self, conn: Any) -> int:
        try:
            while type(conn.recv()) is not wire.Exit:
                pass
        except NodeGone:
            pass
        return 0

    def _serve_sync(self, conn: Any) -> int:
        try:
            while True:
                msg = conn.recv()
                if type(msg) is wire.ActorCall:
                    self.run_call(msg)
                elif type(msg) is wire.Exit:
                    return 0
        except (NodeGone, ActorExit):
            return 0

    def _threaded_connection(self, conn: Any) -> ThreadedConnection:
        threaded = ThreadedConnection(conn.sock, conn.unpacker, list(conn.inbox))
        conn.inbox.clear()
        self.executor.conn = threaded
        self.executor.runtime.conn = threaded
        return threaded

    def _serve_threaded(self, conn: Any) -> int:
        threaded = self._threaded_connection(conn)
        pool = concurrent.futures.ThreadPoolExecutor(self.max_concurrency, thread_name_prefix="actor")
        done = threading.Event()

        def call(msg: wire.ActorCall) -> None:
            try:
                self.run_call(msg)
            except ActorExit:
                done.set()

        def dispatch(msg: Any) -> None:
            if type(msg) is wire.ActorCall:
                pool.submit(call, msg)
            elif type(msg) is wire.Exit:
                done.set()

        threaded.start(dispatch)
        while not (done.wait(0.5) or threaded.closed.is_set()):
            pass
        return 0

    def _serve_async(self, conn: Any) -> int:
        threaded = self._threaded_connection(conn)
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        limit = asyncio.Semaphore(self.max_concurrency)
        stop = loop.create_future()
        tasks: set[asyncio.Task] = set()

        def start_call(msg: wire.ActorCall) -> None:
            task = loop.create_task(self.run_call_async(msg, limit))
            tasks.add(task)
            task.add_done_callback(finished)

        def finished(task: asyncio.Task) -> None:
            tasks.discard(task)
            if not task.cancelled() and isinstance(task.exception(), ActorExit) and not stop.done():
                threaded.send(wire.ActorExiting())
                stop.set_result(None)

        def dispatch(msg: Any) -> None:
            if type(msg) is wire.ActorCall:
                loop.call_soon_threadsafe(start_call, msg)
            elif type(msg) is wire.Exit:
                loop.call_soon_threadsafe(lambda: stop.done() or stop.set_result(None))

        threaded.start(dispatch)
        threading.Thread(
            target=lambda: (threaded.closed.wait(), loop.call_soon_threadsafe(lambda: stop.done() or stop.set_result(None))),
            daemon=True,
        ).start()
        loop.run_until_complete(stop)
        return 0


def is_async_class(cls: type) -> bool:
    return any(
        inspect.iscoroutinefunction(m) or inspect.isasyncgenfunction(m)
        for _, m in inspect.getmembers(cls, predicate=inspect.isfunction)
    )


def exit_actor() -> None:
    """End the current actor after this call; its pending and later calls fail
    with ActorDiedError, and it is not restarted."""
    from greenroom.runtime.context import task_context

    ctx = task_context()
    if ctx is None or ctx.actor_id is None:
        raise TypeError("exit_actor() can only be called inside an actor method")
    sys.stdout.flush()
    raise ActorExit()


