"""Trainables by name: ``tune.register_trainable`` and ``tune.run("name")``, at Ray's ``ray.tune.registry``.

The registry lives in the driver process (trials get the trainable itself, not
its name), for the life of the process: ``shutdown()`` and a new ``init()``
keep what was registered, as in Ray.
"""

from __future__ import annotations

import functools
import logging
from typing import Any, Callable

logger = logging.getLogger(__name__)

TRAINABLE_CLASS = "trainable_class"

_trainables: dict[str, Any] = {}


def _check_trainable(trainable: Any, what: str) -> None:
    from greenroom.tune.trainable.trainable import Trainable

    if isinstance(trainable, type):
        if not issubclass(trainable, Trainable):
            raise TypeError(f"{what}: {trainable!r} is a class but not a tune.Trainable subclass")
    elif not callable(trainable):
        raise TypeError(f"{what}: expected a function or a tune.Trainable class, got {trainable!r:.100}")


def register_trainable(name: str, trainable: Callable | type, warn: bool = True) -> None:
    """Register ``trainable`` (a function or a ``tune.Trainable`` class) under ``name``,
    so that ``tune.run(name)``, ``Tuner(name)`` and ``Experiment(..., run=name)`` find it.

    Raises:
        TypeError: ``name`` is not a string, or ``trainable`` is neither a function nor a Trainable class.
    """
    if not isinstance(name, str) or not name:
        raise TypeError(f"register_trainable: name must be a non-empty string, got {name!r}")
    _check_trainable(trainable, f"register_trainable({name!r}, ...)")
    if warn and name in _trainables and _trainables[name] is not trainable:
        logger.info("register_trainable: %r now names %r (it named %r)", name, trainable, _trainables[name])
    _trainables[name] = trainable


def get_trainable_cls(trainable_name: str) -> Any:
    """The trainable registered under ``trainable_name``.

    Raises:
        TuneError: nothing is registered under that name; the message lists what is.
    """
    from greenroom.tune.error import TuneError

    if trainable_name not in _trainables:
        raise TuneError(
            f"no trainable is registered as {trainable_name!r} (registered: {sorted(_trainables)}); "
            f"call tune.register_trainable({trainable_name!r}, trainable) first, or pass the trainable itself"
        )
    return _trainables[trainable_name]


def is_registered(trainable_name: str) -> bool:
    """Whether a trainable is registered under ``trainable_name``."""
    return trainable_name in _trainables


def is_function_trainable(trainable: Any) -> bool:
    """Whether ``trainable`` (or the trainable registered under that name) is a function, not a class."""
    if isinstance(trainable, str):
        trainable = _trainables.get(trainable)
    return callable(trainable) and not isinstance(trainable, type)


def trainable_name(trainable: Any) -> str:
    """The name Ray gives a trainable: its ``__name__`` ("lambda" for a lambda), a
    partial's function's name, or "DEFAULT"; a string is its own name."""
    if isinstance(trainable, str):
        return trainable
    name = getattr(trainable, "_name", None) or getattr(trainable, "__name__", None)
    if name is None and isinstance(trainable, functools.partial):
        name = getattr(trainable.func, "__name__", None)
    if name == "<lambda>":
        return "lambda"
    if not name or name.startswith("<"):
        return "DEFAULT"
    return name
