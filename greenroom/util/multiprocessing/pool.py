"""``multiprocessing.Pool`` on greenroom: each pool process is an actor, as in Ray.

A drop-in for the standard library's pool: the same methods, arguments,
chunking and results (see ``results.py``). Calls are sent in chunks to the
pool's actors in turn; ``imap`` and ``imap_unordered`` keep two chunks per
actor in flight and send more as results are taken.

Where the standard library hangs, this pool raises: a worker that dies (a
segfault, ``os._exit``) fails the calls it held with ``ActorDiedError`` and is
replaced by a fresh actor; an ``initializer`` that raises fails ``Pool()``;
``terminate()`` fails what was still running.

Lifecycle: ``close()`` stops new work and lets queued chunks finish (each actor
is told to exit after them), ``terminate()`` kills the actors at once,
``join()`` waits for them to exit after either. Leaving the ``with`` block
terminates, as in the standard library. A pool dropped without ``close()``
ends its actors once their queued chunks are done.
"""

from __future__ import annotations

import itertools
import os
import traceback
import weakref
from collections.abc import Callable, Iterable
from typing import Any

from greenroom.actors import remote
from greenroom.actors.handle import kill
from greenroom.runtime.actor_worker import exit_actor
from greenroom.runtime.api import cluster_resources, get, init, is_initialized, put, wait
from greenroom.util.multiprocessing.results import (
    AsyncResult,
    Chunk,
    IMapIterator,
    IMapUnorderedIterator,
    calls_of,
    check_chunksize,
    chunked,
    default_chunksize,
)


class _PoolWorker:
    """One pool process: runs the initializer once, then chunks of calls."""

    def __init__(self, initializer: Callable | None, initargs: tuple) -> None:
        if initializer is not None:
            initializer(*initargs)

    def ping(self) -> int:
        return os.getpid()

    def run_batch(self, func: Callable, calls: list) -> list:
        """One outcome per call: (True, value) or (False, exception, traceback text)."""
        out = []
        for args, kwargs in calls:
            try:
                out.append((True, func(*args, **(kwargs or {}))))
            except Exception as e:
                out.append((False, e, traceback.format_exc()))
        return out

    def stop(self) -> None:
        exit_actor()


class Pool:
    """A pool of worker actors with the standard library's ``multiprocessing.Pool`` API.

    Args:
        processes: how many actors; default, the node's CPUs (at most that many).
        initializer: called as ``initializer(*initargs)`` once in each actor.
        initargs: arguments for ``initializer``.
        maxtasksperchild: replace an actor after it ran this many chunks.
        context: accepted for compatibility and ignored.
        ray_address: passed to ``init()`` if greenroom is not running yet.
        ray_remote_args: options for the actors, as for ``Cls.options(...)``.

    Raises:
        ValueError: ``processes`` is not between 1 and the node's CPUs.
        TypeError: ``initializer`` is not callable.
        ActorDiedError: ``initializer`` raised (the message carries its traceback).
    """

    def __init__(
        self,
        processes: int | None = None,
        initializer: Callable | None = None,
        initargs: Iterable = (),
        maxtasksperchild: int | None = None,
        context: Any = None,
        ray_address: str | None = None,
        ray_remote_args: dict | None = None,
    ) -> None:
        if initializer is not None and not callable(initializer):
            raise TypeError(f"initializer must be a callable, got {initializer!r:.100}")
        if maxtasksperchild is not None and (
            isinstance(maxtasksperchild, bool)
            or not isinstance(maxtasksperchild, int)
            or maxtasksperchild < 1
        ):
            raise ValueError(f"maxtasksperchild={maxtasksperchild!r}: expected None or a positive integer")
        self._initializer = initializer
        self._initargs = tuple(initargs or ())
        self._maxtasks = maxtasksperchild
        self._closed = False
        self._stopping: list = []  # refs that resolve once a stopped actor has exited
        self._iterators: weakref.WeakSet = weakref.WeakSet()  # live imap iterators
        self._turn = itertools.count()
        processes = self._start_greenroom(processes, ray_address)
        self._worker = remote(_PoolWorker).options(**(ray_remote_args or {}))
        self._actors = [[self._new_actor(), 0] for _ in range(processes)]  # [handle, chunks run]
        try:
            get([actor.ping.remote() for actor, _ in self._actors])
        except BaseException:
            self.terminate()
            raise

    def _start_greenroom(self, processes: int | None, ray_address: str | None) -> int:
        if processes is not None and (isinstance(processes, bool) or not isinstance(processes, int)):
            raise TypeError(f"Pool(processes={processes!r}): expected an integer")
        if not is_initialized():
            if ray_address is not None:
                init(address=ray_address)
            else:
                init(num_cpus=processes)
        cpus = int(cluster_resources().get("CPU", 0))
        if processes is None:
            processes = cpus
        if processes < 1:
            raise ValueError(f"Pool(processes={processes}): a pool needs at least 1 process")
        if processes > cpus:
            raise ValueError(
                f"Pool(processes={processes}): greenroom has only {cpus} CPUs; ask for at most {cpus} "
                "processes, or start greenroom with more (init(num_cpus=...))"
            )
        return processes

    def _new_actor(self) -> Any:
        return self._worker.remote(self._initializer, self._initargs)

    # -- sending chunks --------------------------------------------------------------------
    def _check_running(self) -> None:
        if self._closed:
            raise ValueError("Pool not running")

    def _send(self, func: Any, calls: list) -> Chunk:
        """Send one chunk to the next actor in turn."""
        self._check_running()
        slot = next(self._turn) % len(self._actors)
        entry = self._actors[slot]
        actor = entry[0]
        ref = actor.run_batch.remote(func, calls)
        entry[1] += 1
        if self._maxtasks is not None and entry[1] >= self._maxtasks:
            self._stopping.append(actor.stop.remote())  # runs after its queued chunks
            self._actors[slot] = [self._new_actor(), 0]
        return Chunk(ref, len(calls), slot, actor)

    def _actor_died(self, slot: int, actor: Any) -> None:
        """A chunk found its actor dead: put a fresh one in its slot (once)."""
        if not self._closed and self._actors[slot][0] == actor:
            self._actors[slot] = [self._new_actor(), 0]

    def _map_async(
        self,
        func: Callable,
        iterable: Iterable,
        chunksize: int | None,
        star: bool,
        callback: Callable | None = None,
        error_callback: Callable | None = None,
    ) -> AsyncResult:
        self._check_running()
        items = iterable if hasattr(iterable, "__len__") else list(iterable)
        if chunksize is None:
            chunksize = max(1, default_chunksize(len(items), len(self._actors)))
        check_chunksize(chunksize)
        chunks = list(chunked(calls_of(items, star), chunksize))
        func_arg = put(func) if len(chunks) > 1 else func  # pickled once, not per chunk
        return AsyncResult(self, [self._send(func_arg, c) for c in chunks], False, callback, error_callback)

    def _imap(self, cls: type, func: Callable, iterable: Iterable, chunksize: int) -> IMapIterator:
        self._check_running()
        check_chunksize(chunksize)
        func_ref = put(func)
        chunks = chunked(calls_of(iterable, False), chunksize)
        it = cls(self, lambda calls: self._send(func_ref, calls), chunks, ahead=2 * len(self._actors))
        self._iterators.add(it)
        return it

    # -- the standard library's API --------------------------------------------------------
    def apply(self, func: Callable, args: Iterable = (), kwds: dict | None = None) -> Any:
        """``func(*args, **kwds)`` in a pool actor; waits for and returns its result."""
        return self.apply_async(func, args, kwds).get()

    def apply_async(
        self,
        func: Callable,
        args: Iterable = (),
        kwds: dict | None = None,
        callback: Callable | None = None,
        error_callback: Callable | None = None,
    ) -> AsyncResult:
        """``func(*args, **kwds)`` in a pool actor; an AsyncResult of it at once.

        ``callback(result)`` or ``error_callback(exception)`` runs on a thread
        once it finishes.
        """
        self._check_running()
        chunk = self._send(func, [(tuple(args or ()), dict(kwds or {}))])
        return AsyncResult(self, [chunk], True, callback, error_callback)

    def map(self, func: Callable, iterable: Iterable, chunksize: int | None = None) -> list:
        """``[func(x) for x in iterable]`` across the pool, in order.

        Raises:
            Exception: the first error a call raised (by finishing time).
        """
        return self._map_async(func, iterable, chunksize, star=False).get()

    def map_async(
        self,
        func: Callable,
        iterable: Iterable,
        chunksize: int | None = None,
        callback: Callable | None = None,
        error_callback: Callable | None = None,
    ) -> AsyncResult:
        """``map()`` without waiting: an AsyncResult of the list of results."""
        return self._map_async(func, iterable, chunksize, False, callback, error_callback)

    def starmap(self, func: Callable, iterable: Iterable, chunksize: int | None = None) -> list:
        """``[func(*args) for args in iterable]`` across the pool, in order."""
        return self._map_async(func, iterable, chunksize, star=True).get()

    def starmap_async(
        self,
        func: Callable,
        iterable: Iterable,
        chunksize: int | None = None,
        callback: Callable | None = None,
        error_callback: Callable | None = None,
    ) -> AsyncResult:
        """``starmap()`` without waiting: an AsyncResult of the list of results."""
        return self._map_async(func, iterable, chunksize, True, callback, error_callback)

    def imap(self, func: Callable, iterable: Iterable, chunksize: int = 1) -> IMapIterator:
        """A lazy ``map``: an iterator of results in order, computed a little ahead."""
        return self._imap(IMapIterator, func, iterable, chunksize)

    def imap_unordered(self, func: Callable, iterable: Iterable, chunksize: int = 1) -> IMapIterator:
        """Like ``imap()``, but results come as they finish."""
        return self._imap(IMapUnorderedIterator, func, iterable, chunksize)

    # -- the end ---------------------------------------------------------------------------
    def close(self) -> None:
        """Take no more work; the actors exit once what was submitted (imap too) is done."""
        if self._closed:
            return
        for it in list(self._iterators):
            it.submit_all()
        self._closed = True
        self._stopping += [actor.stop.remote() for actor, _ in self._actors]

    def terminate(self) -> None:
        """Kill the actors now; results still pending raise ActorDiedError."""
        self._closed = True
        for actor, _ in getattr(self, "_actors", []):
            kill(actor)

    def join(self) -> None:
        """Wait until the actors have exited (after ``close()`` or ``terminate()``).

        Raises:
            ValueError: the pool is still running.
        """
        if not self._closed:
            raise ValueError("Pool is still running")
        if self._stopping:
            wait(self._stopping, num_returns=len(self._stopping))

    def __enter__(self) -> Pool:
        self._check_running()
        return self

    def __exit__(self, *exc: object) -> None:
        self.terminate()

    def __reduce__(self) -> Any:
        raise NotImplementedError("pool objects cannot be passed between processes or pickled")

    def __repr__(self) -> str:
        state = "CLOSED" if self._closed else "RUN"
        return f"<greenroom.util.multiprocessing.Pool state={state} pool_size={len(self._actors)}>"
