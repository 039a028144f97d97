"""ActorPool at Ray's path: schedule calls over a fixed set of actors, as Ray's does.

The pool hands each submitted value to an idle actor (the one made idle most
recently first), queues values while every actor is busy, and returns results
in submission order (``get_next``) or as they finish (``get_next_unordered``).
An actor counts as busy until the result of its call has been *returned* by the
pool, not merely computed, as in Ray.

Failures follow Ray: a call that raised re-raises at ``get_next`` and its actor
goes back to the pool; a call whose actor died raises ``ActorDiedError`` and
that actor leaves the pool for good, so later values run on the others. Where
Ray would drop queued values silently (every actor dead), greenroom raises and
says to ``push()`` a live actor.
"""

from __future__ import annotations

import collections
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any, TypeVar

from greenroom import exceptions
from greenroom.runtime.api import get, wait
from greenroom.runtime.object_ref import ObjectRef

V = TypeVar("V")

_TIMEOUT_MSG = "Timed out waiting for result"


def _key(future: Any) -> Any:
    """A hashable key for what ``fn`` returned: an ObjectRef, or a tuple for a list of them."""
    return tuple(future) if isinstance(future, list) else future


def _refs(key: Any) -> list[ObjectRef]:
    return list(key) if isinstance(key, tuple) else [key]


class ActorPool:
    """A fixed pool of actors to run calls on, like ``multiprocessing.Pool`` over actors.

    Args:
        actors: the actor handles to use.

    Example:
        >>> pool = ActorPool([Doubler.remote(), Doubler.remote()])
        >>> list(pool.map(lambda a, v: a.double.remote(v), [1, 2, 3, 4]))
        [2, 4, 6, 8]
    """

    def __init__(self, actors: Iterable[Any]) -> None:
        self._idle_actors: list[Any] = list(actors)
        self._future_to_actor: dict[Any, tuple[int, Any]] = {}  # key -> (submission index, actor)
        self._index_to_future: dict[int, Any] = {}
        self._next_task_index = 0
        self._next_return_index = 0
        self._pending_submits: list[tuple[Callable, Any]] = []
        self._completed: collections.deque = collections.deque()  # keys known to be ready

    # -- submitting ------------------------------------------------------------------------
    def map(self, fn: Callable[[Any, V], Any], values: Iterable[V]) -> Iterator[Any]:
        """Apply ``fn(actor, value)`` to every value; an iterator of results in order.

        Every value is submitted now; iterate to collect the results. Results
        of earlier submissions not yet collected are discarded first, as in Ray.

        Args:
            fn: takes an actor and a value and returns the ObjectRef of a call on
                that actor, e.g. ``lambda a, v: a.double.remote(v)``.
            values: the values to apply ``fn`` to.
        """
        while self.has_next():
            try:
                self.get_next(timeout=0, ignore_if_timedout=True)
            except Exception:  # an abandoned result: its error belongs to nobody
                pass
        for v in values:
            self.submit(fn, v)

        def results() -> Iterator[Any]:
            while self.has_next():
                yield self.get_next()

        return results()

    def map_unordered(self, fn: Callable[[Any, V], Any], values: Iterable[V]) -> Iterator[Any]:
        """Like ``map()``, but the iterator yields results as they finish."""
        while self.has_next():
            try:
                self.get_next_unordered()
            except Exception:  # an abandoned result: its error belongs to nobody
                pass
        for v in values:
            self.submit(fn, v)

        def results() -> Iterator[Any]:
            while self.has_next():
                yield self.get_next_unordered()

        return results()

    def submit(self, fn: Callable[[Any, V], Any], value: V) -> None:
        """Run ``fn(actor, value)`` on an idle actor now, or once one is free.

        Collect the result with ``get_next()`` or ``get_next_unordered()``.

        Raises:
            TypeError: ``fn`` returned something other than an ObjectRef (or a
                list of them); the actor stays in the pool.
        """
        if not self._idle_actors:
            self._pending_submits.append((fn, value))
            return
        actor = self._idle_actors.pop()
        try:
            future = fn(actor, value)
            refs = future if isinstance(future, list) else [future]
            if not refs or not all(isinstance(r, ObjectRef) for r in refs):
                raise TypeError(
                    "ActorPool: fn(actor, value) must return the ObjectRef of a call on the actor, "
                    f"e.g. lambda a, v: a.method.remote(v); it returned {future!r:.100}"
                )
        except BaseException:
            self._idle_actors.append(actor)
            raise
        self._future_to_actor[_key(future)] = (self._next_task_index, actor)
        self._index_to_future[self._next_task_index] = future
        self._next_task_index += 1

    # -- collecting ------------------------------------------------------------------------
    def has_next(self) -> bool:
        """Whether any submitted result is still to be returned."""
        return bool(self._future_to_actor) or bool(self._pending_submits)

    def get_next(self, timeout: float | None = None, ignore_if_timedout: bool = False) -> Any:
        """The next result in submission order, waiting up to ``timeout`` seconds.

        Args:
            timeout: seconds to wait; None waits as long as it takes.
            ignore_if_timedout: on a timeout, skip that result for good (its
                actor goes back to the pool) before raising.

        Raises:
            StopIteration: nothing is left to return.
            TimeoutError: the result was not ready within ``timeout``.
            ValueError: called after ``get_next_unordered()`` took results out of order.
            ActorDiedError: the call's actor died; it leaves the pool.
            RuntimeError: values are queued but every actor of the pool died.
            Exception: whatever the call raised.
        """
        self._check_has_next()
        while (
            self._next_return_index < self._next_task_index
            and self._next_return_index not in self._index_to_future
        ):
            self._next_return_index += 1  # taken out of order by get_next_unordered()
        if self._next_return_index >= self._next_task_index:
            raise ValueError("It is not allowed to call get_next() after get_next_unordered().")
        future = self._index_to_future[self._next_return_index]
        key = _key(future)
        timed_out = False
        if timeout is not None:
            refs = _refs(key)
            ready, _ = wait(refs, num_returns=len(refs), timeout=timeout)
            if len(ready) < len(refs):
                if not ignore_if_timedout:
                    raise TimeoutError(_TIMEOUT_MSG)
                timed_out = True
        del self._index_to_future[self._next_return_index]
        self._next_return_index += 1
        _, actor = self._future_to_actor.pop(key)
        if timed_out:
            self._return_actor(actor)
            raise TimeoutError(f"{_TIMEOUT_MSG}. The task {future} has been ignored.")
        return self._get_result(future, actor)

    def get_next_unordered(self, timeout: float | None = None, ignore_if_timedout: bool = False) -> Any:
        """Any next result (the first to finish), waiting up to ``timeout`` seconds.

        Raises the same errors as ``get_next()``, except ValueError.
        """
        self._check_has_next()
        key = self._take_completed()
        if key is None:
            self._collect_ready(timeout)
            key = self._take_completed()
        if key is None:
            if not ignore_if_timedout:
                raise TimeoutError(_TIMEOUT_MSG)
            key = next(iter(self._future_to_actor))  # the oldest
            index, actor = self._future_to_actor.pop(key)
            future = self._index_to_future.pop(index)
            self._return_actor(actor)
            raise TimeoutError(f"{_TIMEOUT_MSG}. The task {future} has been ignored.")
        index, actor = self._future_to_actor.pop(key)
        future = self._index_to_future.pop(index)
        self._next_return_index = max(self._next_return_index, index + 1)
        return self._get_result(future, actor)

    def _check_has_next(self) -> None:
        if not self.has_next():
            raise StopIteration("No more results to get")
        if not self._future_to_actor:  # values queued, and no actor left to run them
            raise RuntimeError(
                f"ActorPool: {len(self._pending_submits)} submitted value(s) are waiting for an actor, but "
                "every actor of the pool died; push() a live actor to run them"
            )

    def _take_completed(self) -> Any:
        while self._completed:
            key = self._completed.popleft()
            if key in self._future_to_actor:
                return key
        return None

    def _collect_ready(self, timeout: float | None) -> None:
        """Wait until some result is complete (or ``timeout``), then note every complete one."""
        deadline = None if timeout is None else time.monotonic() + timeout
        owner = {ref: key for key in self._future_to_actor for ref in _refs(key)}
        pending, ready_set = list(owner), set()
        while pending:
            left = None if deadline is None else max(0.0, deadline - time.monotonic())
            ready, pending = wait(pending, num_returns=1, timeout=left)
            if ready and pending:  # note the others that are ready too, without waiting
                more, pending = wait(pending, num_returns=len(pending), timeout=0)
                ready += more
            if not ready:
                return
            ready_set.update(ready)
            complete = [
                k for k in dict.fromkeys(owner[r] for r in ready) if all(r in ready_set for r in _refs(k))
            ]
            if complete:  # a key of several refs (fn returned a list) completes with its last one
                self._completed.extend(complete)
                return

    def _get_result(self, future: Any, actor: Any) -> Any:
        alive = True
        try:
            return get(future)
        except exceptions.ActorDiedError:
            alive = False  # a dead actor would take every later value and fail it
            raise
        finally:
            self._return_actor(actor, alive)

    def _return_actor(self, actor: Any, alive: bool = True) -> None:
        if alive:
            self._idle_actors.append(actor)
        if self._pending_submits and self._idle_actors:
            self.submit(*self._pending_submits.pop(0))

    # -- the idle set ----------------------------------------------------------------------
    def has_free(self) -> bool:
        """Whether an actor is idle and no submitted value is waiting for one."""
        return bool(self._idle_actors) and not self._pending_submits

    def pop_idle(self) -> Any | None:
        """Take an idle actor out of the pool; None if none is free (see ``has_free``)."""
        if self.has_free():
            return self._idle_actors.pop()
        return None

    def push(self, actor: Any) -> None:
        """Add an actor to the pool's idle set (it runs a queued value at once, if any).

        Raises:
            ValueError: the actor is already in this pool.
        """
        busy = [a for _, a in self._future_to_actor.values()]
        if actor in self._idle_actors or actor in busy:
            raise ValueError("Actor already belongs to current ActorPool")
        self._return_actor(actor)
