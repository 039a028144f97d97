"""What runs inside Ray's worker processes around greenroom's user code.

Every task body and actor class is wrapped once, in the driver: the wrapper makes
greenroom's API in that worker run on Ray too (``enter``, the runtime's, before any
user code), and keeps greenroom's promise that work which asked for no GPU sees
``CUDA_VISIBLE_DEVICES=""`` (Ray leaves the variable as the worker inherited it).
The wrappers are closures, so Ray pickles them by value; the user's function or
class inside travels as Ray would send it.
"""

from __future__ import annotations

import functools
import inspect
import os
from collections.abc import Callable
from typing import Any


def _no_gpu() -> None:
    os.environ["CUDA_VISIBLE_DEVICES"] = ""


def task_body(fn: Callable, gpu: bool, enter: Callable[[], None]) -> Callable:
    """The function Ray runs for greenroom's remote function ``fn``."""
    if inspect.iscoroutinefunction(fn):

        @functools.wraps(fn)
        async def run_async(*args: Any, **kwargs: Any) -> Any:
            enter()
            if not gpu:
                _no_gpu()
            return await fn(*args, **kwargs)

        return run_async

    @functools.wraps(fn)
    def run(*args: Any, **kwargs: Any) -> Any:
        enter()
        if not gpu:
            _no_gpu()
        return fn(*args, **kwargs)

    return run


def actor_class(cls: type, gpu: bool, enter: Callable[[], None], methods: dict[str, dict]) -> type:
    """A subclass of ``cls`` whose constructor enters the Ray backend first (an actor owns its
    worker process, so its ``CUDA_VISIBLE_DEVICES`` is set for its whole life).

    greenroom's per-method options (``@greenroom.method(num_returns=2)``) are told to Ray the
    way ``@ray.method`` does, so a handle from ``get_actor`` knows them as well.
    """

    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        enter()
        if not gpu:
            _no_gpu()
        cls.__init__(self, *args, **kwargs)

    for name, info in methods.items():
        fn = inspect.getattr_static(cls, name, None)
        fn = getattr(fn, "__func__", fn)
        if fn is None or not callable(fn):
            continue
        if info["num_returns"] != 1:
            fn.__ray_num_returns__ = info["num_returns"]
        if info["concurrency_group"] is not None:
            fn.__ray_concurrency_group__ = info["concurrency_group"]
        if info["max_task_retries"] is not None:
            fn.__ray_max_task_retries__ = info["max_task_retries"]
    attrs = {"__init__": __init__, "__module__": cls.__module__, "__qualname__": cls.__qualname__}
    return type(cls.__name__, (cls,), attrs)
