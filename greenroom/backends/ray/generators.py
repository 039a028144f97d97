"""Generator tasks and methods on the Ray backend: Ray's streams as greenroom's types.

``num_returns="streaming"`` gives the caller a ``RayObjectRefGenerator``, a
greenroom ``ObjectRefGenerator`` (``isinstance`` holds) that reads Ray's own
``ObjectRefGenerator`` and hands out greenroom refs carrying Ray's; Ray keeps the
stream (backpressure, cancel, what happens to values never taken).
``num_returns="dynamic"`` returns one ref whose value Ray builds as its
``DynamicObjectRefGenerator``; ``dynamic_value`` turns it into greenroom's.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import ray

from greenroom.backends.ray import errors
from greenroom.runtime.generators import DynamicObjectRefGenerator, ObjectRefGenerator
from greenroom.runtime.object_ref import ObjectRef


class RayGeneratorId(bytes):
    """What ``wait()`` waits on for a stream on Ray: ``.ray`` is Ray's generator, which
    ``ray.wait`` accepts (ready: its next ref can be taken without blocking)."""

    backend = "ray"

    def __new__(cls, ray_generator: Any, key: bytes) -> RayGeneratorId:
        self = super().__new__(cls, key + b"\x67")
        self.ray = ray_generator
        return self


class RayObjectRefGenerator(ObjectRefGenerator):
    """greenroom's ``ObjectRefGenerator`` over Ray's (see the module docs)."""

    def __init__(self, ray_generator: Any, wrap: Callable[[Any], ObjectRef]) -> None:
        # Not ObjectRefGenerator.__init__: that one reads greenroom's node streams.
        self._ray = ray_generator
        self._wrap = wrap
        self._generator_ref = wrap(ray_generator.completed())
        self._task_id = self._generator_ref.id
        self._wait_key = RayGeneratorId(ray_generator, self._generator_ref.id)
        self._runtime = None  # nothing of greenroom's to release at __del__: Ray owns the stream
        self._finished = False

    def __next__(self) -> ObjectRef:
        try:
            return self._wrap(next(self._ray))
        except ray.exceptions.RayError as e:
            raise errors.translate(e) from e

    async def __anext__(self) -> ObjectRef:
        try:
            return self._wrap(await self._ray.__anext__())
        except ray.exceptions.RayError as e:
            raise errors.translate(e) from e

    def next_ready(self) -> bool:
        return self._ray.next_ready()

    def is_finished(self) -> bool:
        return self._ray.is_finished()

    def _wait_id(self) -> bytes | None:
        return None if self._ray.is_finished() else self._wait_key


def dynamic_value(value: Any, wrap: Callable[[Any], ObjectRef]) -> Any:
    """greenroom's DynamicObjectRefGenerator for Ray's (the value of a dynamic task's ref);
    any other value unchanged."""
    if isinstance(value, ray.DynamicObjectRefGenerator):
        return DynamicObjectRefGenerator(wrap(r) for r in value)
    return value

