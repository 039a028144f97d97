"""The node's event loop thread and its inbox: how other threads hand it work.

Every collaborator of the node runs on this loop only. Driver threads reach it
three ways: ``post`` (run after everything posted before, one wakeup per burst),
``post_lazy`` (no wakeup: applied with the next drain, at the latest after
``LAZY_S``), and ``call`` (run and wait for the result). Every asyncio task the
node starts is owned here (``own``) and cancelled and awaited at ``close``.
"""

from __future__ import annotations

import asyncio
import collections
import concurrent.futures
import threading
from collections.abc import Callable
from typing import Any

LAZY_S = 0.05  # how long a lazily posted event may wait for the loop


class NodeLoop:
    """Owns the loop thread; see the module docstring."""

    def __init__(self, after_drain: Callable[[], None]) -> None:
        self.after_drain = after_drain  # runs after each drained burst (the scheduling pass)
        self.loop: asyncio.AbstractEventLoop | None = None
        self.thread: threading.Thread | None = None
        self._inbox: collections.deque = collections.deque()
        self._inbox_scheduled = False
        self._owned: set[asyncio.Task] = set()
        self._lazy_timer: asyncio.TimerHandle | None = None

    # -- lifecycle (driver thread) --------------------------------------------------------
    def start(self, on_started: Callable[[asyncio.AbstractEventLoop], None]) -> None:
        """Start the thread; ``on_started(loop)`` runs on it first (its error is raised here)."""
        started: concurrent.futures.Future = concurrent.futures.Future()
        self.thread = threading.Thread(target=self._run, args=(started, on_started), name="greenroom-node", daemon=True)
        self.thread.start()
        started.result()

    def _run(self, started: concurrent.futures.Future, on_started: Callable) -> None:
        try:
            import uvloop

            loop = uvloop.new_event_loop()
        except ImportError:  # pragma: no cover - uvloop is a dependency
            loop = asyncio.new_event_loop()
        self.loop = loop
        asyncio.set_event_loop(loop)
        try:
            on_started(loop)
        except BaseException as e:
            started.set_exception(e)
            loop.close()
            return
        started.set_result(None)
        self._lazy_timer = loop.call_later(LAZY_S, self._lazy_tick)
        try:
            loop.run_forever()
        finally:
            loop.close()

    @property
    def running(self) -> bool:
        return self.loop is not None and self.loop.is_running()

    def run_and_stop(self, closing: Callable[[], Any], timeout: float = 15) -> None:
        """Run the coroutine function ``closing`` on the loop, cancel and await every owned
        task, then stop the loop and join its thread (driver thread)."""

        async def close() -> None:
            await closing()
            if self._lazy_timer is not None:
                self._lazy_timer.cancel()
            for t in list(self._owned):
                t.cancel()
            if self._owned:
                await asyncio.gather(*self._owned, return_exceptions=True)

        fut = asyncio.run_coroutine_threadsafe(close(), self.loop)
        try:
            fut.result(timeout=timeout)
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(timeout=timeout)

    # -- handing work to the loop ----------------------------------------------------------
    def post(self, fn: Callable, *args: Any) -> None:
        """Run ``fn(*args)`` on the loop, after everything posted before it (any thread)."""
        self._inbox.append((fn, args))
        if not self._inbox_scheduled:
            self._inbox_scheduled = True
            self.loop.call_soon_threadsafe(self._drain)

    def post_lazy(self, fn: Callable, *args: Any) -> None:
        """Like ``post`` but without waking the loop (reference drops: a wakeup per dropped
        ref would cost a round trip each)."""
        self._inbox.append((fn, args))

    def call(self, fn: Callable, *args: Any) -> Any:
        """Run ``fn(*args)`` on the loop and return its result (driver threads). A result that is
        an asyncio future (a task the node owns) is waited for: ``call`` returns None when it is done."""
        fut: concurrent.futures.Future = concurrent.futures.Future()

        def run() -> None:
            try:
                if self._inbox:  # what this thread posted before the call comes first
                    self._drain()
                result = fn(*args)
                if isinstance(result, asyncio.Future):
                    result.add_done_callback(lambda _: fut.set_result(None))
                else:
                    fut.set_result(result)
            except BaseException as e:
                fut.set_exception(e)

        self.loop.call_soon_threadsafe(run)
        return fut.result()

    def on_loop(self, fn: Callable, *args: Any) -> None:
        """Run ``fn(*args)`` now if on the loop thread, else soon on it."""
        if threading.current_thread() is self.thread:
            fn(*args)
        else:
            self.loop.call_soon_threadsafe(fn, *args)

    def own(self, coro: Any) -> asyncio.Task:
        """Run a coroutine as a task the node owns (cancelled and awaited at close)."""
        task = self.loop.create_task(coro)
        self._owned.add(task)
        task.add_done_callback(self._owned.discard)
        return task

    def _lazy_tick(self) -> None:
        if self._inbox and not self._inbox_scheduled:
            self._drain()
        self._lazy_timer = self.loop.call_later(LAZY_S, self._lazy_tick)

    def _drain(self) -> None:
        self._inbox_scheduled = False
        inbox = self._inbox
        while inbox:
            fn, args = inbox.popleft()
            fn(*args)
        self.after_drain()  # now, not on the next loop turn: a new task starts sooner
