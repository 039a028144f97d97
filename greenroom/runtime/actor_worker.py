"""The actor side of a worker process: construct the instance, run its method calls.

Three ways to run calls, picked at creation:
  sync, max_concurrency == 1   the worker's own loop runs calls one by one, in order
  sync, max_concurrency > 1    a reader thread hands calls to a thread pool (one per
    or concurrency groups      concurrency group, plus the default one)
  async (any ``async def``)    a reader thread hands calls to an asyncio loop, at most
                               ``max_concurrency`` (or the group's size) running at once
A graceful end (going out of scope, ``__ray_terminate__``) runs ``__ray_shutdown__``;
``kill()`` does not.
With a reader thread, API calls made inside methods (``get``, ``.remote()``)
wait on a future that the reader resolves, so any thread (or the event loop)
may block in ``get()`` without stopping replies from arriving.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import inspect
import sys
import threading
import traceback
from typing import Any

from greenroom.runtime import serialization, state, wire
from greenroom.runtime.connection import NodeGone, ThreadedConnection
from greenroom.runtime.context import TaskContext, set_task_context


TERMINATE = "__ray_terminate__"  # the method name of a graceful end queued behind other calls


class ActorExit(BaseException):
    """Raised by ``exit_actor()``: ends the actor's process after this call."""


class Actor:
    """The instance and how to run calls on it (see the module docstring)."""

    def __init__(self, executor: Any, msg: wire.ActorInit) -> None:
        self.actor_id = msg.actor_id
        self.assigned = msg.assigned
        self.max_concurrency = msg.max_concurrency
        self.groups = dict(msg.concurrency_groups or {})  # name -> how many calls at once
        self.is_async = msg.is_async
        self.class_name = msg.class_name
        self.placement = msg.placement
        self.actor_name = msg.actor_name
        self.restarts = msg.restarts
        self.enforce = msg.enforce
        executor.runtime.set_job(msg.job)  # for its whole life
        if msg.capture and msg.placement:  # for its whole life
            executor.runtime.default_placement = (msg.placement[0], -1)
        class_blob = msg.class_blob
        self.executor = executor
        executor.limits.apply(msg.enforce, msg.assigned)  # for its whole life
        set_task_context(self._context(self.actor_id[:12], f"{self.class_name}.__init__"))
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

    def _context(self, task_id: bytes, name: str) -> TaskContext:
        return TaskContext(task_id=task_id, assigned=self.assigned, actor_id=self.actor_id, placement=self.placement,
                           name=name, actor_name=self.actor_name, actor_restarts=self.restarts,
                           enforce=self.enforce)  # fmt: skip

    def _method(self, name: str) -> Any:
        if name == TERMINATE:
            return self._terminate
        return getattr(self.instance, name)

    def _terminate(self) -> None:
        """``handle.__ray_terminate__.remote()``: end after the calls queued before it."""
        raise ActorExit("__ray_terminate__ was called")

    def run_call(self, msg: wire.ActorCall) -> None:
        if msg.task_id in self.executor.runtime.cancelled:  # cancelled while it waited its turn
            self.executor.send_done(msg.task_id, *self.executor.cancelled(msg.name))
            return
        set_task_context(self._context(msg.task_id, msg.name))
        try:
            kind, payloads, contains = self.executor.load_and_call(
                msg.task_id, lambda: self._method(msg.method), msg.args_blob, msg.deps, msg.num_returns, msg.name,
                generator=msg.generator,
            )  # fmt: skip
        except ActorExit as e:
            self._exiting(msg, e)
            raise
        self.executor.send_done(msg.task_id, kind, payloads, contains)

    async def run_call_async(self, msg: wire.ActorCall, limit: asyncio.Semaphore) -> None:
        try:
            async with limit:
                set_task_context(self._context(msg.task_id, msg.name))
                kind, payloads, contains = await self.executor.load_and_call_async(
                    msg.task_id, lambda: self._method(msg.method), msg.args_blob, msg.deps,
                    msg.num_returns, msg.name, msg.generator,
                )  # fmt: skip
        except asyncio.CancelledError:  # cancelled before it started (waiting for its group)
            kind, payloads, contains = self.executor.cancelled(msg.name)
        except ActorExit as e:
            self._exiting(msg, e)
            raise
        self.executor.send_done(msg.task_id, kind, payloads, contains)

    def _exiting(self, msg: wire.ActorCall, exit: ActorExit) -> None:
        """The actor ends itself: say why, answer the call that ended it, and run its shutdown hook."""
        reason = str(exit) or "exit_actor() was called in it"
        self.executor.conn.send(wire.ActorExiting(reason))
        if msg.method == TERMINATE:
            self.executor.send_done(msg.task_id, wire.VALUE, [serialization.dumps(None)], [])
            self.shutdown_hook()

    def shutdown_hook(self) -> None:
        """Run the instance's ``__ray_shutdown__`` (graceful ends only, as in Ray)."""
        hook = getattr(self.instance, "__ray_shutdown__", None)
        if hook is None:
            return
        try:
            result = hook()
            if inspect.iscoroutine(result):
                asyncio.run(result)
        except Exception:
            traceback.print_exc()  # its output reaches the driver, prefixed with our pid

    # -- the three ways to run -----------------------------------------------------------
    def serve(self, conn: Any) -> int:
        if not self.ok:
            return self._wait_exit(conn)
        if self.is_async:
            return self._serve_async(conn)
        if self.max_concurrency > 1 or self.groups:
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
                    self.shutdown_hook()
                    return 0
        except (NodeGone, ActorExit):
            return 0

    def _threaded_connection(self, conn: Any) -> ThreadedConnection:
        threaded = ThreadedConnection(conn.sock, conn.unpacker, list(conn.inbox))
        conn.inbox.clear()
        threaded.on_cancel = conn.on_cancel
        self.executor.conn = threaded
        self.executor.runtime.conn = threaded
        return threaded

    def _serve_threaded(self, conn: Any) -> int:
        threaded = self._threaded_connection(conn)
        pools = {None: concurrent.futures.ThreadPoolExecutor(self.max_concurrency, thread_name_prefix="actor")}
        for name, size in self.groups.items():
            pools[name] = concurrent.futures.ThreadPoolExecutor(size, thread_name_prefix=f"actor-{name}")
        done = threading.Event()
        graceful = []

        def call(msg: wire.ActorCall) -> None:
            try:
                self.run_call(msg)
            except ActorExit:
                done.set()

        def dispatch(msg: Any) -> None:
            if type(msg) is wire.ActorCall:
                pools.get(msg.group, pools[None]).submit(call, msg)
            elif type(msg) is wire.Exit:
                graceful.append(True)
                done.set()

        threaded.start(dispatch)
        while not (done.wait(0.5) or threaded.closed.is_set()):
            pass
        if graceful:
            self.shutdown_hook()
        return 0

    def _serve_async(self, conn: Any) -> int:
        threaded = self._threaded_connection(conn)
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        limits = {None: asyncio.Semaphore(self.max_concurrency)}
        limits.update({name: asyncio.Semaphore(size) for name, size in self.groups.items()})
        stop = loop.create_future()
        running: dict[bytes, asyncio.Task] = {}
        graceful = []

        def start_call(msg: wire.ActorCall) -> None:
            task = loop.create_task(self.run_call_async(msg, limits.get(msg.group, limits[None])))
            running[msg.task_id] = task
            task.add_done_callback(lambda t, m=msg: finished(m, t))

        def finished(msg: wire.ActorCall, task: asyncio.Task) -> None:
            running.pop(msg.task_id, None)
            if task.cancelled():  # cancelled before its coroutine took a step: answer for it
                self.executor.send_done(msg.task_id, *self.executor.cancelled(msg.name))
            elif isinstance(task.exception(), ActorExit) and not stop.done():
                stop.set_result(None)

        def cancel(task_id: bytes) -> None:  # on the reader thread: cancel() of a call
            def on_loop() -> None:
                task = running.get(task_id)
                if task is not None:
                    task.cancel()

            loop.call_soon_threadsafe(on_loop)

        def dispatch(msg: Any) -> None:
            if type(msg) is wire.ActorCall:
                loop.call_soon_threadsafe(start_call, msg)
            elif type(msg) is wire.Exit:
                graceful.append(True)
                loop.call_soon_threadsafe(lambda: stop.done() or stop.set_result(None))

        base_cancel = threaded.on_cancel
        threaded.on_cancel = lambda task_id: (base_cancel(task_id), cancel(task_id))
        threaded.start(dispatch)
        threading.Thread(
            target=lambda: (threaded.closed.wait(), loop.call_soon_threadsafe(lambda: stop.done() or stop.set_result(None))),
            daemon=True,
        ).start()
        loop.run_until_complete(stop)
        if graceful:
            hook = getattr(self.instance, "__ray_shutdown__", None)
            if hook is not None:
                try:
                    result = hook()
                    if inspect.iscoroutine(result):
                        loop.run_until_complete(result)
                except Exception:
                    traceback.print_exc()
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
    rt = state.current()
    if rt is not None and rt.backend != "local":  # another engine ends its actors its own way
        rt.call("exit_actor")
    sys.stdout.flush()
    raise ActorExit()


