"""Queue at Ray's path: a first-in, first-out queue held by an actor, shared by tasks and actors.

A ``Queue`` is a small picklable handle (its ``maxsize`` and an actor handle):
pass it to tasks and actors and they all use the same queue. The actor is an
async actor holding an ``asyncio.Queue``, so a blocked ``get`` or ``put`` waits
there without holding back other callers, and its timeout runs there too.

Errors: ``Empty`` and ``Full`` (subclasses of the standard library's
``queue.Empty`` and ``queue.Full``, as in Ray) are raised in the caller, with
no remote traceback. If the queue's actor dies, every call raises
``ActorDiedError`` at once, saying so; after ``shutdown()`` a call raises
``RuntimeError``. A caller interrupted while blocked (its task cancelled)
withdraws its wait, so the next item goes to a live consumer.
"""

from __future__ import annotations

import asyncio
import collections
import itertools
import os
import queue as std_queue
from collections.abc import Iterable
from typing import Any

from greenroom import exceptions
from greenroom.actors import remote
from greenroom.actors.handle import kill
from greenroom.runtime.api import get, wait

_EMPTY = "empty"
_FULL = "full"
_tickets = itertools.count(1)


class Empty(std_queue.Empty):
    """No item: raised by ``get(block=False)``, ``get(timeout=...)`` and ``get_nowait_batch``."""


class Full(std_queue.Full):
    """No room: raised by ``put(block=False)``, ``put(timeout=...)`` and ``put_nowait_batch``."""


class _QueueActor:
    """The actor behind a Queue. Every method is a coroutine, so all run on its one event loop."""

    def __init__(self, maxsize: int) -> None:
        self.maxsize = maxsize
        self.queue: asyncio.Queue = asyncio.Queue(maxsize)
        self.waiting: dict[Any, asyncio.Task] = {}  # ticket -> a blocked get or put
        # Tickets withdrawn before their call started (async calls may start out of order).
        self.withdrawn: collections.deque = collections.deque(maxlen=1024)

    async def qsize(self) -> int:
        return self.queue.qsize()

    async def empty(self) -> bool:
        return self.queue.empty()

    async def full(self) -> bool:
        return self.queue.full()

    async def num_waiting(self) -> int:
        """How many callers are blocked in get() or put() now (for diagnostics and tests)."""
        return len(self.waiting)

    async def put(self, item: Any, timeout: float | None, ticket: Any) -> str | None:
        return await self._blocking(self.queue.put(item), timeout, ticket, _FULL)

    async def get(self, timeout: float | None, ticket: Any) -> Any:
        return await self._blocking(self.queue.get(), timeout, ticket, _EMPTY)

    async def _blocking(self, op: Any, timeout: float | None, ticket: Any, failed: str) -> Any:
        """Run ``op`` with ``timeout``; withdrawn (``withdraw(ticket)``) or timed out, it took nothing."""
        if ticket in self.withdrawn:
            op.close()
            return (False, failed)
        task = asyncio.ensure_future(asyncio.wait_for(op, timeout))
        self.waiting[ticket] = task
        try:
            return (True, await task)
        except (asyncio.TimeoutError, asyncio.CancelledError):
            return (False, failed)
        finally:
            self.waiting.pop(ticket, None)

    async def withdraw(self, ticket: Any) -> None:
        task = self.waiting.pop(ticket, None)
        if task is not None:
            task.cancel()
        else:
            self.withdrawn.append(ticket)

    async def put_nowait(self, item: Any) -> str | None:
        if self.queue.full():
            return _FULL
        self.queue.put_nowait(item)
        return None

    async def put_nowait_batch(self, items: list) -> str | None:
        if self.maxsize > 0 and len(items) + self.queue.qsize() > self.maxsize:
            size = self.queue.qsize()
            return f"Cannot add {len(items)} items to queue of size {size} and maxsize {self.maxsize}."
        for item in items:
            self.queue.put_nowait(item)
        return None

    async def get_nowait(self) -> tuple:
        if self.queue.empty():
            return (False, _EMPTY)
        return (True, self.queue.get_nowait())

    async def get_nowait_batch(self, num_items: int) -> tuple:
        if num_items > self.queue.qsize():
            return (False, f"Cannot get {num_items} items from queue of size {self.queue.qsize()}.")
        return (True, [self.queue.get_nowait() for _ in range(num_items)])


def _dead(error: exceptions.RayActorError) -> exceptions.RayActorError:
    """The same error, saying that it is the queue's actor that is gone."""
    try:
        return type(error)(f"the Queue's actor is dead, so the queue and its items are gone: {error}")
    except Exception:  # an error type that takes other arguments
        return error


def _check_timeout(timeout: float | None) -> None:
    if timeout is not None and (isinstance(timeout, bool) or not isinstance(timeout, (int, float))):
        raise TypeError(f"'timeout' must be None or a number of seconds, got {timeout!r}")
    if timeout is not None and timeout < 0:
        raise ValueError("'timeout' must be a non-negative number")


class Queue:
    """A first-in, first-out queue on an actor, usable from the driver, tasks and actors.

    Args:
        maxsize: the most items it holds; 0 (the default) is unbounded.
        actor_options: options for the queue's actor, as for ``Cls.options(...)``
            (e.g. ``{"num_cpus": 1}`` or a name).

    Example:
        >>> q = Queue(maxsize=10)
        >>> q.put(1); q.get()
        1
    """

    def __init__(self, maxsize: int = 0, actor_options: dict | None = None) -> None:
        if isinstance(maxsize, bool) or not isinstance(maxsize, int):
            raise TypeError(f"Queue(maxsize={maxsize!r}): expected an integer (0 for unbounded)")
        self.maxsize = maxsize
        self.actor: Any = remote(_QueueActor).options(**(actor_options or {})).remote(maxsize)

    # -- plumbing --------------------------------------------------------------------------
    def _handle(self) -> Any:
        if self.actor is None:
            raise RuntimeError("this Queue was shut down; create a new Queue")
        return self.actor

    def _get(self, ref: Any) -> Any:
        try:
            return get(ref)
        except exceptions.RayActorError as e:
            raise _dead(e) from e

    async def _await(self, ref: Any) -> Any:
        try:
            return await ref
        except exceptions.RayActorError as e:
            raise _dead(e) from e

    def _ticket(self) -> str:
        return f"{os.getpid()}:{next(_tickets)}"

    def _withdraw(self, ticket: str) -> None:
        """The caller stopped waiting (cancelled, interrupted): take its blocked call back."""
        try:
            self.actor.withdraw.remote(ticket)
        except Exception:  # the actor or the node is gone: nothing waits any more
            pass

    # -- size ------------------------------------------------------------------------------
    def __len__(self) -> int:
        return self.size()

    def size(self) -> int:
        """The number of items in the queue."""
        return self._get(self._handle().qsize.remote())

    def qsize(self) -> int:
        """The number of items in the queue (the same as ``size()``)."""
        return self.size()

    def empty(self) -> bool:
        """Whether the queue holds no item."""
        return self._get(self._handle().empty.remote())

    def full(self) -> bool:
        """Whether the queue holds ``maxsize`` items (never, when unbounded)."""
        return self._get(self._handle().full.remote())

    # -- put -------------------------------------------------------------------------------
    def put(self, item: Any, block: bool = True, timeout: float | None = None) -> None:
        """Add ``item``; if the queue is full and ``block``, wait up to ``timeout`` seconds for room.

        Raises:
            Full: no room (at once if not ``block``, else after ``timeout``).
            ValueError: a negative ``timeout``.
        """
        actor = self._handle()
        if not block:
            if self._get(actor.put_nowait.remote(item)) == _FULL:
                raise Full
            return
        _check_timeout(timeout)
        ticket = self._ticket()
        try:
            ok, _ = self._get(actor.put.remote(item, timeout, ticket))
        except BaseException:
            self._withdraw(ticket)
            raise
        if not ok:
            raise Full

    async def put_async(self, item: Any, block: bool = True, timeout: float | None = None) -> None:
        """``put()`` for async code: awaits instead of blocking the thread."""
        actor = self._handle()
        if not block:
            if await self._await(actor.put_nowait.remote(item)) == _FULL:
                raise Full
            return
        _check_timeout(timeout)
        ticket = self._ticket()
        try:
            ok, _ = await self._await(actor.put.remote(item, timeout, ticket))
        except BaseException:
            self._withdraw(ticket)
            raise
        if not ok:
            raise Full

    def put_nowait(self, item: Any) -> None:
        """``put(item, block=False)``: raises Full if there is no room."""
        self.put(item, block=False)

    def put_nowait_batch(self, items: Iterable) -> None:
        """Add all ``items`` in order, or none of them.

        Raises:
            Full: they do not all fit.
            TypeError: ``items`` is not iterable.
        """
        if not isinstance(items, Iterable):
            raise TypeError("Argument 'items' must be an Iterable")
        refused = self._get(self._handle().put_nowait_batch.remote(list(items)))
        if refused is not None:
            raise Full(refused)

    # -- get -------------------------------------------------------------------------------
    def get(self, block: bool = True, timeout: float | None = None) -> Any:
        """Remove and return the first item; if empty and ``block``, wait up to ``timeout`` seconds.

        Raises:
            Empty: no item (at once if not ``block``, else after ``timeout``).
            ValueError: a negative ``timeout``.
        """
        actor = self._handle()
        if not block:
            ok, value = self._get(actor.get_nowait.remote())
        else:
            _check_timeout(timeout)
            ticket = self._ticket()
            try:
                ok, value = self._get(actor.get.remote(timeout, ticket))
            except BaseException:
                self._withdraw(ticket)
                raise
        if not ok:
            raise Empty
        return value

    async def get_async(self, block: bool = True, timeout: float | None = None) -> Any:
        """``get()`` for async code: awaits instead of blocking the thread."""
        actor = self._handle()
        if not block:
            ok, value = await self._await(actor.get_nowait.remote())
        else:
            _check_timeout(timeout)
            ticket = self._ticket()
            try:
                ok, value = await self._await(actor.get.remote(timeout, ticket))
            except BaseException:
                self._withdraw(ticket)
                raise
        if not ok:
            raise Empty
        return value

    def get_nowait(self) -> Any:
        """``get(block=False)``: raises Empty if there is no item."""
        return self.get(block=False)

    def get_nowait_batch(self, num_items: int) -> list:
        """Remove and return the first ``num_items`` items, or none of them.

        Raises:
            Empty: fewer than ``num_items`` items are queued.
            TypeError, ValueError: ``num_items`` is not a non-negative integer.
        """
        if isinstance(num_items, bool) or not isinstance(num_items, int):
            raise TypeError("Argument 'num_items' must be an int")
        if num_items < 0:
            raise ValueError("'num_items' must be nonnegative")
        ok, value = self._get(self._handle().get_nowait_batch.remote(num_items))
        if not ok:
            raise Empty(value)
        return value

    # -- the end ---------------------------------------------------------------------------
    def shutdown(self, force: bool = False, grace_period_s: int = 5) -> None:
        """End the queue's actor and free what it holds; its items are dropped.

        Calls still blocked on the queue (from other processes) raise
        ``ActorDiedError``; calls on this handle raise ``RuntimeError``.

        Args:
            force: kill the actor at once. Without it, calls already sent
                are given up to ``grace_period_s`` seconds to be answered first.
            grace_period_s: see ``force``.
        """
        actor, self.actor = self.actor, None
        if actor is None:
            return
        if not force:  # answered once the actor has taken every call sent before it
            wait([actor.qsize.remote()], timeout=grace_period_s)
        kill(actor)
