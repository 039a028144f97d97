"""What runs inside Ray's worker processes around greenroom's user code.

Every task body and actor class is wrapped once, in the driver. The wrapper keeps
greenroom's promise that work which asked for no GPU sees ``CUDA_VISIBLE_DEVICES=""``
(Ray leaves the variable as the worker inherited it), and makes greenroom's API in
that worker run on Ray too, before any user code (``enter``).

The wrappers are closures built here, so cloudpickle sends them by value, and
they refer to nothing of greenroom by reference: a Ray worker that runs code which
never touches greenroom never imports it (an import of the package costs tens of
ms, the price of every new actor). Where greenroom is already imported (user code
that uses it was unpickled first), ``enter`` installs the Ray backend's runtime
there; where it is not, it leaves a note in the environment that the package face
reads if the code imports greenroom later (``_config.in_ray_worker``).
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any


def _make_enter() -> Callable[[bool], None]:
    """``enter(gpu)``, self-contained (see the module docs)."""

    def enter(gpu: bool) -> None:
        import os
        import sys

        # Each write is a setenv(), which races with getenv() in Ray's own C++ threads (glibc's
        # environment is not thread-safe: a worker segfaulted in getenv once). Write only a change,
        # so a worker process writes each variable once, at its first task.
        if not gpu and os.environ.get("CUDA_VISIBLE_DEVICES") != "":
            os.environ["CUDA_VISIBLE_DEVICES"] = ""
        if "greenroom" in sys.modules:
            from greenroom.backends.ray import enter_worker

            enter_worker()
        elif os.environ.get("GREENROOM_RAY_WORKER") != "1":
            os.environ["GREENROOM_RAY_WORKER"] = "1"  # _config.in_ray_worker reads it

    return enter


def task_body(fn: Callable, gpu: bool, num_returns: int, name: str) -> Callable:
    """The function Ray runs for greenroom's remote function ``fn``.

    Two promises of greenroom that Ray does not keep are kept here: an ``async def``
    function runs as a task (Ray refuses one; it runs to completion on its own loop), and
    a result that is not exactly ``num_returns`` values fails with greenroom's ValueError.
    """
    enter = _make_enter()
    # The wrapper is the same kind of function as fn: Ray checks that a streaming task's is a generator.
    if inspect.isgeneratorfunction(fn):

        @functools.wraps(fn)
        def run_generator(*args: Any, **kwargs: Any) -> Any:
            enter(gpu)
            yield from fn(*args, **kwargs)

        return run_generator
    if inspect.isasyncgenfunction(fn):

        @functools.wraps(fn)
        async def run_async_generator(*args: Any, **kwargs: Any) -> Any:
            enter(gpu)
            async for item in fn(*args, **kwargs):
                yield item

        return run_async_generator
    check = _make_check(num_returns, name)
    if inspect.iscoroutinefunction(fn):

        @functools.wraps(fn)
        def run_async(*args: Any, **kwargs: Any) -> Any:
            import asyncio

            enter(gpu)
            return check(asyncio.run(fn(*args, **kwargs)))

        return run_async

    @functools.wraps(fn)
    def run(*args: Any, **kwargs: Any) -> Any:
        enter(gpu)
        return check(fn(*args, **kwargs))

    return run


def _make_check(num_returns: int, name: str) -> Callable[[Any], Any]:
    """``check(result)``: the result, or greenroom's ValueError when it is not ``num_returns`` values."""

    def check(result: Any) -> Any:
        if num_returns == 1:
            return result
        try:
            values = list(result)
        except TypeError:
            values = None
        if values is None or len(values) != num_returns:
            raise ValueError(
                f"task {name!r} has num_returns={num_returns} but returned {type(result).__name__} "
                f"{result!r:.200}; return a sequence of exactly {num_returns} values"
            )
        return values

    return check


def actor_class(cls: type, gpu: bool, methods: dict[str, dict]) -> type:
    """A subclass of ``cls`` whose constructor enters first (an actor owns its worker
    process, so its ``CUDA_VISIBLE_DEVICES`` is set for its whole life).

    greenroom's per-method options (``@greenroom.method(num_returns=2)``) are told to Ray the
    way ``@ray.method`` does, so a handle from ``get_actor`` knows them as well.
    """
    enter = _make_enter()

    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        enter(gpu)
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
