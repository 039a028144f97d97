"""greenroom's options, already checked at decoration, as Ray's ``.options(...)``.

Ray receives exactly what greenroom validated (greenroom's defaults included:
``max_calls=1`` for GPU tasks, 0 CPUs for actors), so the same decorator means
the same request on both backends.
"""

from __future__ import annotations

from typing import Any

from ray.util.placement_group import PlacementGroup as RayPlacementGroup
from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy, PlacementGroupSchedulingStrategy

from greenroom.runtime.options import Scheduling, TaskOptions
from greenroom.scheduler.resources import UNIT, ResourceSet


def ray_placement_group(pg_hex: str) -> RayPlacementGroup:
    """Ray's handle to the placement group with this id (any process can make one)."""
    from ray._raylet import PlacementGroupID

    return RayPlacementGroup(PlacementGroupID(bytes.fromhex(pg_hex)))


def resources(request: ResourceSet) -> dict[str, Any]:
    """num_cpus, num_gpus, memory and resources of a greenroom request (zeros explicit)."""
    amounts = request.to_dict()
    out: dict[str, Any] = {"num_cpus": amounts.pop("CPU", 0), "num_gpus": amounts.pop("GPU", 0)}
    if "memory" in amounts:
        out["memory"] = int(amounts.pop("memory"))
    if amounts:
        out["resources"] = amounts
    return out


def bundles(units: list[dict[str, int]]) -> list[dict[str, float]]:
    """Placement-group bundles from greenroom's checked units, in Ray's terms."""
    return [{k: (int(v // UNIT) if k == "memory" else v / UNIT) for k, v in b.items()} for b in units]


def strategy(scheduling: Scheduling) -> Any:
    """Ray's scheduling_strategy for greenroom's checked one (None: Ray's default, which
    captures into the caller's placement group as greenroom's does)."""
    if scheduling.node_affinity is not None:
        node_id, soft = scheduling.node_affinity
        return NodeAffinitySchedulingStrategy(node_id, soft=soft)
    if scheduling.placement is not None:
        pg_hex, index = scheduling.placement
        return PlacementGroupSchedulingStrategy(
            ray_placement_group(pg_hex), placement_group_bundle_index=index,
            placement_group_capture_child_tasks=scheduling.capture,
        )  # fmt: skip
    if not scheduling.inherit:  # PlacementGroupSchedulingStrategy(None): out of the caller's group
        return PlacementGroupSchedulingStrategy(None)
    return "SPREAD" if scheduling.spread else None


def generator(mode: tuple) -> dict[str, Any]:
    """Ray's options for a generator call: greenroom's ``(mode, backpressure)``."""
    out: dict[str, Any] = {"num_returns": mode[0]}
    if mode[1] >= 0:
        out["_generator_backpressure_num_objects"] = mode[1]
    return out


def task(options: TaskOptions) -> dict[str, Any]:
    out = resources(options.request)
    retry = options.retry_exceptions
    out.update(
        num_returns=options.num_returns, max_retries=options.max_retries, max_calls=options.max_calls,
        retry_exceptions=list(retry) if isinstance(retry, tuple) else retry,
    )  # fmt: skip
    if options.generator is not None:
        out.update(generator(options.generator))
    if options.name:
        out["name"] = options.name
    if options.env_vars:
        out["runtime_env"] = {"env_vars": dict(options.env_vars)}
    scheduling = strategy(options.scheduling)
    if scheduling is not None:
        out["scheduling_strategy"] = scheduling
    return out


def actor(checked: dict, raw: dict) -> dict[str, Any]:
    """Ray's actor options from greenroom's checked ones (``ActorClass._check``) and the raw ones."""
    out = resources(checked["request"])
    out.update(
        max_restarts=checked["max_restarts"], max_task_retries=checked["max_task_retries"],
        max_concurrency=checked["max_concurrency"], max_pending_calls=checked["max_pending_calls"],
    )  # fmt: skip
    if checked["concurrency_groups"]:
        out["concurrency_groups"] = checked["concurrency_groups"]
    for key in ("name", "namespace", "lifetime"):
        if raw.get(key) is not None:
            out[key] = raw[key]
    if raw.get("get_if_exists"):
        out["get_if_exists"] = True
    if checked["env_vars"]:
        out["runtime_env"] = {"env_vars": dict(checked["env_vars"])}
    scheduling = strategy(checked["scheduling"])
    if scheduling is not None:
        out["scheduling_strategy"] = scheduling
    return out


def wants_gpu(request: ResourceSet) -> bool:
    return request.get("GPU") > 0
