"""``tune.with_parameters`` and ``tune.with_resources``, at Ray's ``ray.tune.trainable.util``.

Both return what Ray returns, a plain function or a ``tune.Trainable``
subclass, so they wrap each other in either order and ``ray.remote`` takes
their result. ``with_resources`` marks a function with ``_resources`` (on a
copy: the caller's function is left as it was) and gives a class a
``default_resource_request``. ``with_parameters`` puts its values in the
object store once per run (``tune.run`` does, before the first trial), and
each trial process fetches them once.
"""

from __future__ import annotations

import copy
import functools
import inspect
import types
from typing import Any, Callable

import greenroom as ray
from greenroom.tune.resources import PlacementGroupFactory, resources_to_factory

PARAMETERS_ATTR = "_tune_parameters"  # the _Parameters a trainable's with_parameters wrappers hold


class _Parameters:
    """Values passed by ``with_parameters``: object-store refs once ``put``, else the values themselves."""

    def __init__(self, values: dict) -> None:
        self._values: dict | None = values
        self._refs: dict | None = None
        self._fetched: dict | None = None

    def put(self) -> None:
        """Put the values in the object store (again, for a new run); pickling then carries only refs."""
        if self._values is not None:
            self._refs = {k: ray.put(v) for k, v in self._values.items()}

    def get(self) -> dict:
        """The values, fetched from the object store once per process."""
        if self._fetched is None:
            if self._refs is not None:
                self._fetched = {k: ray.get(r) for k, r in self._refs.items()}
            else:
                self._fetched = dict(self._values or {})
        return self._fetched

    def __getstate__(self) -> dict:
        if self._refs is not None:
            return {"_values": None, "_refs": self._refs, "_fetched": None}
        return {"_values": self._values, "_refs": None, "_fetched": None}  # not put: by value

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)


def parameters_of(trainable: Any) -> list[_Parameters]:
    """Every ``with_parameters`` store a trainable carries (wrappers of wrappers included)."""
    return list(getattr(trainable, PARAMETERS_ATTR, ()))


def _check_trainable(trainable: Any, what: str) -> None:
    from greenroom.tune.trainable.trainable import Trainable

    if not callable(trainable) or (inspect.isclass(trainable) and not issubclass(trainable, Trainable)):
        raise ValueError(
            f"`tune.{what}()` only works with function trainables or classes that inherit from "
            f"`tune.Trainable`. Got type: {type(trainable)}."
        )


def with_parameters(trainable: Callable | type, **kwargs: Any) -> Callable | type:
    """Pass large objects to a trainable through the object store, once per run.

    A function is called as ``trainable(config, **kwargs)``; a ``tune.Trainable``
    class gets them as ``setup(config, **kwargs)``.

    Raises:
        ValueError: ``trainable`` is neither a function nor a Trainable class.
    """
    _check_trainable(trainable, "with_parameters")
    params = _Parameters(kwargs)
    name = getattr(trainable, "__name__", "tune_with_parameters")
    if inspect.isclass(trainable):

        class _Inner(trainable):  # type: ignore[misc, valid-type]
            def setup(self, config: dict) -> None:
                super().setup(config, **params.get())

        wrapped: Any = _Inner
        wrapped.__qualname__ = trainable.__qualname__
    else:

        def inner(config: dict) -> Any:
            return trainable(config, **params.get())

        wrapped = inner
        if hasattr(trainable, "_resources"):  # with_resources first, then with_parameters
            wrapped._resources = trainable._resources
    wrapped.__name__ = name
    setattr(wrapped, PARAMETERS_ATTR, [params, *parameters_of(trainable)])
    return wrapped


def _resources_value(resources: Any) -> Any:
    if isinstance(resources, PlacementGroupFactory):
        return resources
    if hasattr(resources, "as_placement_group_factory"):  # a train.ScalingConfig
        return resources.as_placement_group_factory()
    if isinstance(resources, dict):
        return resources_to_factory(resources)
    if callable(resources):
        return resources  # called with each trial's config
    raise ValueError(f"Invalid resource type for `with_resources()`: {type(resources)}")


def with_resources(trainable: Callable | type, resources: Any) -> Callable | type:
    """Set what each trial of ``trainable`` holds: a dict (``{"cpu": 2, "gpu": 1}``), a
    ``tune.PlacementGroupFactory``, or a function of the trial's config returning one of those.

    Returns a copy of a function with the resources attached, or a subclass of a
    ``tune.Trainable`` class whose ``default_resource_request`` returns them.

    Raises:
        ValueError: ``trainable`` is neither a function nor a Trainable class, or bad resources.
    """
    _check_trainable(trainable, "with_resources")
    value = _resources_value(resources)
    if inspect.isclass(trainable):

        class ResourceTrainable(trainable):  # type: ignore[misc, valid-type]
            @classmethod
            def default_resource_request(cls, config: dict) -> Any:
                return (
                    value(config)
                    if callable(value) and not isinstance(value, PlacementGroupFactory)
                    else value
                )

        ResourceTrainable.__name__ = trainable.__name__
        ResourceTrainable.__qualname__ = trainable.__qualname__
        return ResourceTrainable
    return _with_attribute(trainable, "_resources", value)


def _with_attribute(fn: Callable, name: str, value: Any) -> Callable:
    """A copy of ``fn`` (a function stays a function) with ``name`` set to ``value``."""
    if isinstance(fn, types.FunctionType):
        clone = types.FunctionType(fn.__code__, fn.__globals__, fn.__name__, fn.__defaults__, fn.__closure__)
        clone.__dict__.update(fn.__dict__)
        clone.__kwdefaults__ = fn.__kwdefaults__
        clone.__qualname__, clone.__module__, clone.__doc__ = fn.__qualname__, fn.__module__, fn.__doc__
        setattr(clone, name, value)
        return clone
    try:
        other = copy.copy(fn)
        setattr(other, name, value)
        return other
    except (AttributeError, TypeError):  # a bound method or a builtin: wrap it in a function

        @functools.wraps(fn)
        def call(config: dict) -> Any:
            return fn(config)

        setattr(call, name, value)
        return call


def resources_of(trainable: Any) -> Any:
    """What ``with_resources`` or ``default_resource_request`` give ``trainable``: a
    PlacementGroupFactory, a function of the config, or None when it says nothing."""
    from greenroom.tune.trainable.trainable import Trainable

    if inspect.isclass(trainable) and issubclass(trainable, Trainable):
        if trainable.default_resource_request.__func__ is Trainable.default_resource_request.__func__:
            return None
        return trainable.default_resource_request
    return getattr(trainable, "_resources", None)
