"""Validating ``@remote(...)`` and ``.options(...)`` for tasks, once, at decoration.

Bad options raise here (TypeError/ValueError naming the option and what to
change), never later at ``.remote()`` or in a worker.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NamedTuple

from greenroom.runtime.limits import parse_enforce
from greenroom.runtime.strategies import NodeAffinitySchedulingStrategy, PlacementGroupSchedulingStrategy
from greenroom.scheduler.resources import ResourceSet, parse_resources

TASK_OPTIONS = frozenset({
    "num_cpus", "num_gpus", "memory", "resources", "num_returns", "max_retries",
    "retry_exceptions", "max_calls", "scheduling_strategy", "name", "placement_group",
    "placement_group_bundle_index", "placement_group_capture_child_tasks", "runtime_env",
    "accelerator_type", "object_store_memory", "_metadata", "label_selector", "_enforce",
    "_generator_backpressure_num_objects",
})  # fmt: skip
STREAMING, DYNAMIC = "streaming", "dynamic"
GENERATOR_MODES = (STREAMING, DYNAMIC)  # num_returns of a generator task (Ray's names)

# Accepted only with their "does nothing" value: anything else can't be honoured here.
_UNSUPPORTED = {"_metadata": (None,), "label_selector": (None, {})}


@dataclass(frozen=True, slots=True)
class TaskOptions:
    request: ResourceSet
    num_returns: int
    max_retries: int
    retry_exceptions: Any  # bool or tuple of exception types
    max_calls: int
    scheduling: Scheduling
    name: str | None
    enforce: int  # limits.py's mask: what to enforce on it (the node ANDs its own)
    generator: tuple | None = None  # (mode, backpressure) of a generator task: see generator_of
    env_vars: tuple = ()  # its runtime_env's env_vars, as sorted (name, value) pairs


def env_vars_of(runtime_env: Any, where: str) -> dict[str, str]:
    """The ``env_vars`` of a ``runtime_env`` (a dict or greenroom.runtime_env.RuntimeEnv), the
    one field greenroom honours on its own node; the others raise, saying what to do instead."""
    if runtime_env is None:
        return {}
    if not isinstance(runtime_env, dict):
        raise TypeError(f"runtime_env={runtime_env!r} given to {where}: expected a dict such as "
                        "{'env_vars': {'OMP_NUM_THREADS': '1'}}")  # fmt: skip
    other = sorted(set(runtime_env) - {"env_vars"})
    if other:
        raise ValueError(
            f"runtime_env given to {where} has {', '.join(map(repr, other))}: greenroom runs every task in this "
            "Python environment on this machine, so of runtime_env it honours only env_vars; install "
            "packages here, and import code from this machine's paths (on a Ray cluster, "
            "init(address='ray://...') takes the whole runtime_env)"
        )
    env_vars = runtime_env.get("env_vars") or {}
    if not isinstance(env_vars, dict) or not all(isinstance(k, str) and isinstance(v, str)
                                                 for k, v in env_vars.items()):  # fmt: skip
        raise TypeError(f"runtime_env={{'env_vars': {env_vars!r}}} given to {where}: expected a dict of str to str")
    return dict(env_vars)


def check_names(options: dict, allowed: frozenset, what: str) -> None:
    unknown = sorted(set(options) - allowed)
    if unknown:
        raise ValueError(
            f"unknown option(s) {', '.join(map(repr, unknown))} for {what}; "
            f"valid options are: {', '.join(sorted(allowed))}"
        )
    for key, fine in _UNSUPPORTED.items():
        if key in options and options[key] not in fine:
            raise ValueError(
                f"option {key}={options[key]!r} is not supported by greenroom on one machine; "
                f"remove it (greenroom runs tasks in this Python environment)"
            )


def _int_option(options: dict, key: str, default: int, minimum: int) -> int:
    value = options.get(key, default)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{key}={value!r}: expected an integer")
    if value < minimum:
        raise ValueError(f"{key}={value!r}: must be >= {minimum}")
    return value


class Scheduling(NamedTuple):
    """Where a task or actor may run, from ``scheduling_strategy`` (or ``placement_group=``)."""

    placement: tuple | None  # (pg_id, bundle_index), or None
    capture: bool  # its own tasks and actors run in its placement group by default
    inherit: bool  # no strategy named: it runs where its caller captures work, if anywhere
    node_affinity: tuple | None  # (node_id, soft) of a NodeAffinitySchedulingStrategy
    spread: bool = False  # "SPREAD": one node here; a backend with many nodes spreads the work


def scheduling_of(options: dict) -> Scheduling:
    """Check and read ``scheduling_strategy`` and the older ``placement_group=`` options."""
    strategy = options.get("scheduling_strategy")
    if isinstance(strategy, NodeAffinitySchedulingStrategy):
        if not isinstance(strategy.node_id, str) or not strategy.node_id:
            raise ValueError(f"NodeAffinitySchedulingStrategy(node_id={strategy.node_id!r}): expected a node id "
                             "such as get_runtime_context().get_node_id()")  # fmt: skip
        return Scheduling(None, False, False, (strategy.node_id, bool(strategy.soft)))
    if isinstance(strategy, PlacementGroupSchedulingStrategy):
        pg, index = strategy.placement_group, strategy.placement_group_bundle_index
        capture = bool(strategy.placement_group_capture_child_tasks)
        if pg is None:  # Ray's way to opt out of the caller's captured group
            return Scheduling(None, False, False, None)
    elif strategy in (None, "DEFAULT", "SPREAD"):
        pg, index = options.get("placement_group"), options.get("placement_group_bundle_index", -1)
        capture = bool(options.get("placement_group_capture_child_tasks"))
        if pg in (None, "default"):
            return Scheduling(None, False, True, None, strategy == "SPREAD")
    else:
        raise ValueError(
            f"scheduling_strategy={strategy!r} is not supported; use 'DEFAULT', 'SPREAD', "
            "PlacementGroupSchedulingStrategy(pg) or NodeAffinitySchedulingStrategy(node_id, soft)"
        )
    if isinstance(index, bool) or not isinstance(index, int) or index < -1:
        raise ValueError(f"placement_group_bundle_index={index!r}: must be -1 (any bundle) or a bundle index")
    if index >= pg.bundle_count:
        raise ValueError(
            f"placement_group_bundle_index={index} is out of range: the group has {pg.bundle_count} bundle(s)"
        )
    return Scheduling((pg.id.hex(), index), capture, False, None)


def generator_of(options: dict, is_generator: bool, where: str) -> tuple | None:
    """``(mode, backpressure)`` for a generator call, else None. ``num_returns="streaming"``
    or ``"dynamic"`` asks for one; a generator function with no ``num_returns`` streams, as in
    Ray. ``backpressure`` is ``_generator_backpressure_num_objects`` (-1: none)."""
    num_returns = options.get("num_returns")
    mode = num_returns if num_returns in GENERATOR_MODES else None
    if num_returns is None and is_generator:
        mode = STREAMING
    backpressure = options.get("_generator_backpressure_num_objects")
    if backpressure is None:
        backpressure = -1
    if isinstance(backpressure, bool) or not isinstance(backpressure, int):
        raise TypeError(f"{where}(_generator_backpressure_num_objects={backpressure!r}): expected an integer")
    if backpressure == 0 or backpressure < -1:
        raise ValueError(
            f"{where}(_generator_backpressure_num_objects={backpressure!r}): expected a positive number of "
            "objects the caller may fall behind by, or -1 for no limit"
        )
    return (mode, backpressure) if mode is not None else None


def task_options(options: dict, is_generator: bool = False) -> TaskOptions:
    """Validate task options (from ``@remote`` merged with ``.options``); ``is_generator``:
    the function is a generator function (it streams unless ``num_returns`` says otherwise)."""
    check_names(options, TASK_OPTIONS, "a remote function")
    request = parse_resources(
        num_cpus=options.get("num_cpus"),
        num_gpus=options.get("num_gpus"),
        memory=options.get("memory"),
        resources=options.get("resources"),
        default_cpus=1.0,
        accelerator_type=options.get("accelerator_type"),
    )
    generator = generator_of(options, is_generator, "@remote")
    num_returns = 1 if generator else _int_option(options, "num_returns", 1, 1)
    max_retries = _int_option(options, "max_retries", 3, -1)
    retry = options.get("retry_exceptions", False)
    if isinstance(retry, (list, tuple)):
        if not all(isinstance(t, type) and issubclass(t, BaseException) for t in retry):
            raise TypeError(f"retry_exceptions={retry!r}: expected True/False or a list of exception classes")
        retry = tuple(retry)
    elif not isinstance(retry, bool):
        raise TypeError(f"retry_exceptions={retry!r}: expected True/False or a list of exception classes")
    default_calls = 1 if request.get("GPU") > 0 else 0  # a GPU worker's memory goes with its process
    max_calls = _int_option(options, "max_calls", default_calls, 0)
    name = options.get("name")
    if name is not None and not isinstance(name, str):
        raise TypeError(f"name={name!r}: expected a string")
    enforce = parse_enforce(options.get("_enforce", True), "_enforce")
    env_vars = tuple(sorted(env_vars_of(options.get("runtime_env"), "a remote function").items()))
    return TaskOptions(request, num_returns, max_retries, retry, max_calls, scheduling_of(options), name, enforce,
                       generator, env_vars)  # fmt: skip
