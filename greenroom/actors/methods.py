"""Actor methods' options: ``@method(...)`` and what a handle knows of each method.

A class's methods are described once, at decoration, as plain data (it travels
inside actor handles, to other processes too): per method its ``num_returns``,
its argument shape (so a bad call raises TypeError at ``.remote()``), its
concurrency group and its ``max_task_retries``.
"""

from __future__ import annotations

import inspect
from typing import Any, Callable

from greenroom.runtime.options import generator_of
from greenroom.runtime.signature import CallShape

METHOD_OPTIONS = frozenset({
    "num_returns", "concurrency_group", "max_task_retries", "retry_exceptions", "enable_task_events",
    "_generator_backpressure_num_objects", "max_retries", "tensor_transport", "_metadata",
})  # fmt: skip
_MARK = "__greenroom_method_options__"


def check_method_options(options: dict, where: str) -> dict:
    """Validate per-method options (from ``@method`` or ``.options()`` on a call)."""
    unknown = sorted(set(options) - METHOD_OPTIONS)
    if unknown:
        raise ValueError(f"unknown {where} option(s) {unknown}; valid: {sorted(METHOD_OPTIONS)}")
    num_returns = options.get("num_returns", 1)
    if isinstance(num_returns, bool) or not isinstance(num_returns, int) or num_returns < 1:
        if num_returns not in ("streaming", "dynamic"):
            raise ValueError(f"{where}(num_returns={num_returns!r}): expected a positive integer, "
                             "'streaming' or 'dynamic'")  # fmt: skip
    group = options.get("concurrency_group")
    if group is not None and not isinstance(group, str):
        raise TypeError(f"{where}(concurrency_group={group!r}): expected the name of a concurrency group")
    generator_of(options, False, where)  # checks _generator_backpressure_num_objects
    retries = options.get("max_task_retries")
    if retries is not None and (isinstance(retries, bool) or not isinstance(retries, int) or retries < -1):
        raise ValueError(f"{where}(max_task_retries={retries!r}): expected an integer >= -1")
    events = options.get("enable_task_events", True)
    if not isinstance(events, bool):
        raise TypeError(f"{where}(enable_task_events={events!r}): expected True or False")
    return options


def method(**options: Any) -> Callable:
    """Per-method options for actor methods, e.g. ``@method(num_returns=2)``,
    ``@method(concurrency_group="io")``, ``@method(max_task_retries=3)``."""
    check_method_options(options, "@method")

    def mark(fn: Callable) -> Callable:
        setattr(fn, _MARK, options)
        return fn

    return mark


def describe_methods(cls: type) -> dict[str, dict]:
    """name -> {"num_returns", "shape", "concurrency_group", "max_task_retries", "backpressure"}
    for each public method of ``cls`` (plain data: it travels inside handles). A generator
    method with no ``num_returns`` streams, as in Ray."""
    methods = {}
    for name, fn in inspect.getmembers(cls, predicate=callable):
        if name.startswith("__") and name.endswith("__"):
            continue
        options = getattr(fn, _MARK, {})
        bound_to_instance = not isinstance(inspect.getattr_static(cls, name, None), (staticmethod, classmethod))
        shape = CallShape.of(fn, skip_first=bound_to_instance)
        is_generator = inspect.isgeneratorfunction(fn) or inspect.isasyncgenfunction(fn)
        methods[name] = {
            "num_returns": options.get("num_returns", "streaming" if is_generator else 1),
            "backpressure": options.get("_generator_backpressure_num_objects"),
            "shape": shape.to_wire() if shape is not None else None,
            "concurrency_group": options.get("concurrency_group"),
            "max_task_retries": options.get("max_task_retries"),
        }
    return methods
