"""What a generator task gives its caller: ``ObjectRefGenerator`` and ``DynamicObjectRefGenerator``.

``f.remote()`` of a generator function (``num_returns="streaming"``, the default for
one) returns an ``ObjectRefGenerator`` at once; each ``next()`` waits for the next
value the task yields and returns an ObjectRef to it, while the task still runs. It
reads the stream's slots in order (stream_state.py explains them): a slot holds an
item, an error (the task raised, crashed or was cancelled: the ref is returned, and
the next ``next()`` stops) or END. Waiting for a slot is an ordinary wait for one
object, so the driver waits on its object table and a worker asks its node, both
lending their CPU as in ``get()``.

``num_returns="dynamic"`` returns one ObjectRef whose value is a
``DynamicObjectRefGenerator`` of the yielded values' refs, once the task has ended.
"""

from __future__ import annotations

import collections
from collections.abc import Iterable, Iterator
from typing import Any

from greenroom.runtime import state, wire
from greenroom.runtime.object_ref import ObjectRef, object_id


class ObjectRefGenerator:
    """The refs a streaming generator task yields, as they come (``num_returns="streaming"``).

    Iterate it with ``for`` or ``async for``; each item is an ObjectRef to pass to
    ``get()`` or to await. If the task fails, the ref after its last value holds the
    error (``get()`` raises it), and iteration stops after it. Pass it to ``wait()``
    (ready: ``next()`` would not block) or ``cancel()``. Made by ``.remote()`` only; it
    cannot be passed to other tasks. Not thread-safe, as in Ray.

    Example::

        @greenroom.remote
        def numbers(n):
            for i in range(n):
                yield i

        for ref in numbers.remote(3):
            print(greenroom.get(ref))
    """

    def __init__(self, generator_ref: ObjectRef, runtime: Any = None) -> None:
        self._generator_ref = generator_ref  # the task's completion (Ray's name)
        self._task_id = generator_ref.id[:12]
        self._runtime = runtime if runtime is not None else state.runtime()
        self._index = 1  # the slot the next next() reads
        self._finished = False  # StopIteration from now on (after the end, or after an error)

    # -- iteration -------------------------------------------------------------------------
    def __iter__(self) -> ObjectRefGenerator:
        return self

    def __next__(self) -> ObjectRef:
        """Wait for the next yielded value and return its ref.

        Raises:
            StopIteration: the task ended and every ref was taken (after an error ref too).
        """
        if self._finished:
            raise StopIteration
        runtime = self._runtime
        kind = runtime.stream_take(self._task_id, self._index)
        if kind is None:
            runtime.wait_ids([self._slot()], 1, None)
            kind = runtime.stream_take(self._task_id, self._index)
        ref = self._ref(kind)
        if ref is None:
            raise StopIteration
        return ref

    def __aiter__(self) -> ObjectRefGenerator:
        return self

    async def __anext__(self) -> ObjectRef:
        """``__next__`` for ``async for``: waits without blocking the event loop.

        Raises:
            StopAsyncIteration: the task ended and every ref was taken.
        """
        if self._finished:
            raise StopAsyncIteration
        runtime = self._runtime
        kind = runtime.stream_take(self._task_id, self._index)
        if kind is None:
            await runtime.wait_ready(self._slot())
            kind = runtime.stream_take(self._task_id, self._index)
        ref = self._ref(kind)
        if ref is None:
            raise StopAsyncIteration
        return ref

    def _slot(self) -> bytes:
        return object_id(self._task_id, self._index)

    def _ref(self, kind: int | None) -> ObjectRef | None:
        """The ref to the slot just taken, or None at the end."""
        if kind is None or kind == wire.END:  # None: a shutdown removed the stream
            self._finished = True
            return None
        ref = ObjectRef._owned(self._slot(), self._runtime.refs)  # the node counts us as its holder
        self._index += 1
        if kind != wire.VALUE:  # an error is the stream's last item
            self._finished = True
        return ref

    # -- Ray's other methods ------------------------------------------------------------------
    def completed(self) -> ObjectRef:
        """A ref that is ready when the task has ended; ``get()`` of it raises if the task
        failed other than by raising in the generator (a crash, a cancel). Returns at once."""
        return self._generator_ref

    def next_ready(self) -> bool:
        """Whether ``next()`` would return a ref at once (False at the end). Returns at once."""
        if self._finished:
            return False
        kind = self._runtime.stream_take(self._task_id, self._index, True)
        return kind is not None and kind != wire.END

    def is_finished(self) -> bool:
        """Whether the task ended and every ref was taken: ``next()`` raises StopIteration."""
        if self._finished:
            return True
        return self._runtime.stream_take(self._task_id, self._index, True) == wire.END

    def send(self, value: Any) -> None:
        raise NotImplementedError("`gen.send` is not supported.")

    def throw(self, value: Any) -> None:
        raise NotImplementedError("`gen.throw` is not supported.")

    def close(self) -> None:
        raise NotImplementedError("`gen.close` is not supported.")

    async def asend(self, value: Any) -> None:
        raise NotImplementedError("`gen.asend` is not supported.")

    async def athrow(self, value: Any) -> None:
        raise NotImplementedError("`gen.athrow` is not supported.")

    async def aclose(self) -> None:
        raise NotImplementedError("`gen.aclose` is not supported.")

    def _wait_id(self) -> bytes | None:
        """What ``wait()`` waits on for it: its next slot (None: finished, so ready)."""
        return None if self._finished else self._slot()

    def __del__(self) -> None:
        # The node releases the values it kept for us that we never took.
        runtime = self.__dict__.get("_runtime")
        if runtime is not None and state.current() is runtime:
            try:
                runtime.stream_dropped(self._task_id, self._index - 1)
            except Exception:  # interpreter shutdown
                pass

    def __reduce__(self) -> Any:
        raise TypeError(
            "You cannot return or pass a generator to other task. Serializing a ObjectRefGenerator is not "
            "allowed. Iterate it here and pass the ObjectRefs it yields instead."
        )

    def __repr__(self) -> str:
        return f"ObjectRefGenerator({self._generator_ref.hex()})"


class DynamicObjectRefGenerator:
    """The refs of a ``num_returns="dynamic"`` task's values: the value of the one ref it returns.

    Iterating takes the refs out (as in Ray): a second loop sees none. ``len()`` counts
    the refs not taken yet. If the task raised, its last ref holds the error.
    """

    def __init__(self, refs: Iterable[ObjectRef]) -> None:
        self._refs: collections.deque[ObjectRef] = collections.deque(refs)

    def __iter__(self) -> Iterator[ObjectRef]:
        while self._refs:
            yield self._refs.popleft()

    def __len__(self) -> int:
        return len(self._refs)

    def __reduce__(self) -> Any:
        return (DynamicObjectRefGenerator, (list(self._refs),))

    def __repr__(self) -> str:
        return f"DynamicObjectRefGenerator({len(self._refs)} refs)"


def make_generator(refs: list[ObjectRef], generator: tuple | list) -> Any:
    """What ``.remote()`` of a generator call returns: an ObjectRefGenerator when it streams,
    else (``num_returns="dynamic"``) its one ref."""
    if generator[0] == "streaming":
        if isinstance(refs[0], ObjectRefGenerator):  # a backend that streams its own way made it
            return refs[0]
        return ObjectRefGenerator(refs[0])
    return refs[0]
