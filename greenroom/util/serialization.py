"""Ray's ``ray.util.register_serializer``: a way to send objects of a class pickle cannot handle."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from greenroom.runtime import serialization

__all__ = ["deregister_serializer", "register_serializer"]


def register_serializer(cls: type, *, serializer: Callable[[Any], Any], deserializer: Callable[[Any], Any]) -> None:
    """Send instances of ``cls`` as ``serializer(obj)``, rebuilt by ``deserializer(that)``.

    As in Ray, the registration is this process's: it applies to what this process sends (the
    driver's arguments and puts, or a task's results when the task registers it). The receiving
    side needs nothing: ``deserializer`` travels with the data (by reference if importable, else by
    value). It applies to exactly ``cls``, not its subclasses.

    Raises:
        TypeError: ``cls`` is not a class, or ``serializer``/``deserializer`` is not callable.
    """
    if not isinstance(cls, type):
        raise TypeError(f"register_serializer(cls={cls!r}): expected a class")
    for name, fn in (("serializer", serializer), ("deserializer", deserializer)):
        if not callable(fn):
            raise TypeError(f"register_serializer({cls.__name__}, {name}={fn!r}): expected a callable")
    serialization.register_reducer(cls, lambda obj: (deserializer, (serializer(obj),)))


def deregister_serializer(cls: type) -> None:
    """Undo ``register_serializer(cls, ...)`` in this process; nothing if none was registered."""
    if not isinstance(cls, type):
        raise TypeError(f"deregister_serializer(cls={cls!r}): expected a class")
    serialization.deregister_reducer(cls)
