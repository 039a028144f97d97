"""ObjectRef: a handle to a value that a task returns or ``put()`` stores.

Ids are 16 bytes: a 12-byte task id (4-byte owner, 8-byte counter) and a 4-byte
return index, so every process mints ids without asking the node.
"""

from __future__ import annotations

import concurrent.futures
import itertools
import struct
from typing import Any, Generator

_TASK_ID = struct.Struct("<IQ")


class IdMinter:
    """Mints task ids unique on the node: owner 0 is the driver, workers use their id."""

    def __init__(self, owner: int) -> None:
        self.owner = owner
        self._counter = itertools.count(1)

    def task_id(self) -> bytes:
        return _TASK_ID.pack(self.owner, next(self._counter))


def object_id(task_id: bytes, index: int) -> bytes:
    """The id of return value ``index`` of a task (or of a put, index 0)."""
    return task_id + index.to_bytes(4, "little")


def return_ids(task_id: bytes, num_returns: int) -> list[bytes]:
    """The ids of a task's return values."""
    return [task_id + i.to_bytes(4, "little") for i in range(num_returns)]


def task_of(object_id: bytes) -> bytes:
    return object_id[:12]


class ObjectRef:
    """A reference to a remote value; pass it to ``get()``, to tasks, or ``await`` it.

    Each live ObjectRef counts: once none is left anywhere, the value is freed.
    """

    __slots__ = ("id", "_counts", "__weakref__")

    def __init__(self, id: bytes) -> None:
        from greenroom.runtime import state

        self.id = id
        rt = state.current()
        self._counts = rt.refs if rt is not None else None
        if self._counts is not None:
            self._counts.added(id)

    @classmethod
    def _owned(cls, id: bytes, counts: Any) -> ObjectRef:
        """The creator's ref: the node already counts this process as holding it."""
        ref = cls.__new__(cls)
        ref.id = id
        ref._counts = counts
        counts.created(id)
        return ref

    def __del__(self) -> None:
        counts = self._counts
        if counts is not None:
            try:
                counts.removed(self.id)
            except Exception:  # interpreter shutdown
                pass

    def hex(self) -> str:
        return self.id.hex()

    def binary(self) -> bytes:
        return self.id

    def task_id(self) -> str:
        of_backend = getattr(self.id, "task_hex", None)  # another backend's id knows its task's
        return of_backend() if of_backend is not None else task_of(self.id).hex()

    def __repr__(self) -> str:
        return f"ObjectRef({self.id.hex()})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ObjectRef) and other.id == self.id

    def __hash__(self) -> int:
        return hash(self.id)

    def __reduce__(self) -> Any:
        from greenroom.runtime.handles import note_pickled_ref

        note_pickled_ref(self.id)
        return (ObjectRef, (self.id,))

    def __await__(self) -> Generator[Any, None, Any]:
        from greenroom.runtime import state

        return state.runtime().await_ref(self).__await__()

    def future(self) -> concurrent.futures.Future:
        """A ``concurrent.futures.Future`` that resolves to the value (or raises)."""
        from greenroom.runtime import state

        return state.runtime().future(self)
