"""Ids of the Ray backend: greenroom's ObjectRef and ActorHandle, carrying Ray's.

greenroom's ``ObjectRef`` and ``ActorHandle`` keep their types on this backend; only
their id differs: a ``RayObjectId`` (``RayActorId``) is the Ray ref's (handle's)
binary id as ``bytes``, so it hashes and compares as greenroom's ids do, and it
carries the Ray object in ``.ray``. Its class attribute ``backend = "ray"`` is how
the local node and the Ray runtime refuse each other's refs and handles.

Pickled (into a task's arguments, a stored value, a handle), an id travels as its
Ray object, so Ray's own serializer sees every ref and handle (ownership and
lifetimes stay Ray's). ``rebuild`` is set by ``runtime.py``: it makes the process
that unpickles one use the Ray backend first (a Ray worker, before any user code).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


class RayObjectId(bytes):
    """An ObjectRef's id on the Ray backend; ``.ray`` is the Ray ObjectRef."""

    backend = "ray"
    rebuild: Callable[[Any], RayObjectId]  # set by runtime.py

    def __new__(cls, ref: Any) -> RayObjectId:
        self = super().__new__(cls, ref.binary())
        self.ray = ref
        return self

    def __reduce__(self) -> Any:
        return (type(self).rebuild, (self.ray,))

    def task_hex(self) -> str:
        """The id of the task that made it, as Ray's ``get_runtime_context().get_task_id()`` says it."""
        return self.ray.task_id().hex()


class RayActorId(bytes):
    """An ActorHandle's id on the Ray backend; ``.ray`` is the Ray ActorHandle."""

    backend = "ray"
    rebuild: Callable[[Any], RayActorId]  # set by runtime.py

    def __new__(cls, handle: Any) -> RayActorId:
        self = super().__new__(cls, handle._actor_id.binary())
        self.ray = handle
        return self

    def __reduce__(self) -> Any:
        return (type(self).rebuild, (self.ray,))


def foreign(what: str, key: bytes) -> ValueError:
    """The error for a ref or handle of greenroom's local node given to the Ray backend."""
    return ValueError(
        f"{what} {key.hex()} belongs to greenroom's local node, not to the Ray cluster greenroom is "
        "connected to now (init(address=...)); refs and handles do not move between backends: "
        "create it again on the cluster"
    )
