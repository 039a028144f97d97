"""What the Pool hands back: ``AsyncResult`` and the ``imap`` iterators, plus pure chunking rules.

A pool actor runs a *chunk* (a list of calls) and returns one outcome per
call: ``(True, value)`` or ``(False, exception, traceback text)``. Here the
outcomes become results the way the standard library's pool presents them: a
call's exception is raised as itself, with a ``RemoteTraceback`` as its
``__cause__``; a chunk whose actor died raises greenroom's ``ActorDiedError``
for each of its items (the standard library would hang), and the pool replaces
that actor.

Nothing here runs a thread unless a callback is given: results are collected
by whoever asks (``get``, ``wait``, ``ready``, ``next``). With a callback, one
thread per result collects it, runs the callback, and ends, as the standard
library's result handler would call it.
"""

from __future__ import annotations

import collections
import itertools
import multiprocessing
import multiprocessing.pool
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from greenroom import exceptions
from greenroom.runtime.api import get, wait

# -- pure rules ----------------------------------------------------------------------------


def default_chunksize(n_items: int, n_workers: int) -> int:
    """The standard library's choice for ``map``: about four chunks per worker."""
    chunksize, extra = divmod(n_items, n_workers * 4)
    return chunksize + 1 if extra else chunksize


def check_chunksize(chunksize: Any) -> None:
    if isinstance(chunksize, bool) or not isinstance(chunksize, int) or chunksize < 1:
        raise ValueError(f"Chunksize must be 1+, not {chunksize!r}")


def calls_of(items: Iterable, star: bool) -> Iterator[tuple]:
    """Each item as the ``(args, kwargs)`` of one call: ``f(item)``, or ``f(*item)`` for starmap."""
    for item in items:
        yield (tuple(item) if star else (item,)), None


def chunked(calls: Iterable[tuple], chunksize: int) -> Iterator[list]:
    """``calls`` in lists of ``chunksize`` (the last may be shorter), lazily."""
    it = iter(calls)
    while chunk := list(itertools.islice(it, chunksize)):
        yield chunk


def outcomes_to_items(outcomes: list) -> list[tuple[bool, Any]]:
    """A chunk's outcomes as ``(ok, value or exception)``, a call's remote traceback as its cause."""
    items = []
    for outcome in outcomes:
        if outcome[0]:
            items.append((True, outcome[1]))
        else:
            error = outcome[1]
            error.__cause__ = multiprocessing.pool.RemoteTraceback(outcome[2])
            items.append((False, error))
    return items


# -- collecting one chunk ------------------------------------------------------------------


class Chunk:
    """One submitted chunk: its ref, its size, and the actor (slot and handle) that runs it."""

    __slots__ = ("actor", "ref", "size", "slot")

    def __init__(self, ref: Any, size: int, slot: int, actor: Any) -> None:
        self.ref, self.size, self.slot, self.actor = ref, size, slot, actor

    def fetch(self, pool: Any) -> list[tuple[bool, Any]]:
        """Its items' outcomes; a failure of the whole chunk is repeated for each item."""
        try:
            return outcomes_to_items(get(self.ref))
        except exceptions.RayActorError as e:
            pool._actor_died(self.slot, self.actor)
            return [(False, e)] * self.size
        except exceptions.RayError as e:
            return [(False, e)] * self.size


class AsyncResult:
    """The result of ``apply_async``, ``map_async`` or ``starmap_async``, as in ``multiprocessing``."""

    def __init__(
        self,
        pool: Any,
        chunks: list[Chunk],
        single: bool,
        callback: Callable | None = None,
        error_callback: Callable | None = None,
    ) -> None:
        self._pool = pool
        self._chunks = chunks
        self._single = single
        self._items: list[list | None] = [None] * len(chunks)
        self._pending = dict(enumerate(chunks))
        self._error: BaseException | None = None
        self._settled = threading.Event()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        if callback is not None or error_callback is not None:
            self._thread = threading.Thread(
                target=self._run_callbacks,
                args=(callback, error_callback),
                name="greenroom-pool-result",
                daemon=True,
            )
            self._thread.start()
        elif not chunks:
            self._settled.set()

    def _collect(self, timeout: float | None) -> bool:
        """Take in finished chunks until all are in, one failed, or ``timeout``; True when settled."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while self._pending and self._error is None:
            left = None if deadline is None else max(0.0, deadline - time.monotonic())
            by_ref = {c.ref: i for i, c in self._pending.items()}
            ready, rest = wait(list(by_ref), num_returns=1, timeout=left)
            if not ready:
                return False
            if rest:
                ready += wait(rest, num_returns=len(rest), timeout=0)[0]
            for ref in ready:
                index = by_ref[ref]
                items = self._pending.pop(index).fetch(self._pool)
                self._items[index] = items
                failed = next((value for ok, value in items if not ok), None)
                if failed is not None and self._error is None:
                    self._error = failed
        return True

    def _advance(self, timeout: float | None) -> None:
        if self._settled.is_set():
            return
        if self._thread is not None:  # its thread collects; wait for it
            self._settled.wait(timeout)
            return
        if not self._lock.acquire(timeout=-1 if timeout is None else timeout):
            return
        try:
            if not self._settled.is_set() and self._collect(timeout):
                self._settled.set()
        finally:
            self._lock.release()

    def _value(self) -> Any:
        values = [value for items in self._items for _, value in items]
        return values[0] if self._single else values

    def _run_callbacks(self, callback: Callable | None, error_callback: Callable | None) -> None:
        try:
            self._collect(None)
            if self._error is None:
                if callback is not None:
                    callback(self._value())
            elif error_callback is not None:
                error_callback(self._error)
        finally:
            self._settled.set()

    def ready(self) -> bool:
        """Whether the call has finished (every item done, or one failed)."""
        self._advance(0)
        return self._settled.is_set()

    def successful(self) -> bool:
        """Whether it finished without an error.

        Raises:
            ValueError: it has not finished yet.
        """
        if not self.ready():
            raise ValueError(f"{self!r} not ready")
        return self._error is None

    def wait(self, timeout: float | None = None) -> None:
        """Wait until it has finished, or ``timeout`` seconds have passed."""
        self._advance(timeout)

    def get(self, timeout: float | None = None) -> Any:
        """The result (a list for the map calls), waiting up to ``timeout`` seconds.

        Raises:
            multiprocessing.TimeoutError: not finished within ``timeout``.
            Exception: the first error of a call, as itself.
        """
        self._advance(timeout)
        if not self._settled.is_set():
            raise multiprocessing.TimeoutError
        if self._error is not None:
            raise self._error
        return self._value()


class IMapIterator:
    """The iterator ``imap`` returns: results in order, computed a few chunks ahead per worker.

    ``next(timeout)`` raises ``multiprocessing.TimeoutError`` if the next
    result is not ready in time; a call's error is raised at its place, and
    iteration goes on after it.
    """

    _ordered = True

    def __init__(
        self, pool: Any, submit: Callable[[list], Chunk], chunks: Iterator[list], ahead: int
    ) -> None:
        self._pool = pool
        self._submit = submit
        self._source = enumerate(chunks)
        self._exhausted = False
        self._ahead = ahead
        self._inflight: dict[Any, tuple[int, Chunk]] = {}  # ref -> (chunk index, chunk)
        self._done: dict[int, list] = {}  # chunk index -> items, for the ordered iterator
        self._next_chunk = 0
        self._items: collections.deque = collections.deque()
        self._fill()

    def _fill(self, limit: int | None = None) -> None:
        """Keep ``ahead`` chunks in flight (all of them with ``limit=None`` after ``submit_all``)."""
        while not self._exhausted and (limit is None or len(self._inflight) < limit):
            try:
                index, calls = next(self._source)
            except StopIteration:
                self._exhausted = True
                return
            chunk = self._submit(calls)
            self._inflight[chunk.ref] = (index, chunk)

    def _refill(self) -> None:
        self._fill(self._ahead)

    def submit_all(self) -> None:
        """Submit every chunk left now (the pool is closing: nothing may be sent after)."""
        self._fill(None)

    def __iter__(self) -> IMapIterator:
        return self

    def __next__(self) -> Any:
        return self.next()

    def next(self, timeout: float | None = None) -> Any:
        """The next result, waiting up to ``timeout`` seconds."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            if self._items:
                ok, value = self._items.popleft()
                if not ok:
                    raise value
                return value
            if self._next_chunk in self._done:
                self._items.extend(self._done.pop(self._next_chunk))
                self._next_chunk += 1
                continue
            if not self._inflight:
                self._refill()
                if not self._inflight:
                    raise StopIteration
            left = None if deadline is None else max(0.0, deadline - time.monotonic())
            ready, _ = wait(list(self._inflight), num_returns=1, timeout=left)
            if not ready:
                raise multiprocessing.TimeoutError
            index, chunk = self._inflight.pop(ready[0])
            items = chunk.fetch(self._pool)
            self._refill()
            if self._ordered:
                self._done[index] = items
            else:
                self._items.extend(items)


class IMapUnorderedIterator(IMapIterator):
    """The iterator ``imap_unordered`` returns: results as their chunks finish."""

    _ordered = False
