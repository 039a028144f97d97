"""What ``greenroom status`` shows, read from a node's collaborators (on its loop)."""

from __future__ import annotations

from typing import Any

from greenroom.runtime.actor_state import DEAD

MAX_WAITING = 20  # requests listed as waiting for resources


def status(node: Any) -> dict[str, Any]:
    """Resources (per GPU id too), actors, task counts, placement groups, what waits and
    why, and the attached drivers."""
    scheduler = node.scheduler
    holders: dict[str, list[str]] = {}
    actors = []
    waiting = []
    free = scheduler.available.to_dict()
    for rec in node.actors.actors.values():
        if rec.state.state == DEAD:
            continue
        gpu_ids = list(rec.assigned[1]) if rec.granted and rec.assigned else []
        label = f"actor {rec.spec.class_name}" + (f" {rec.spec.name!r}" if rec.spec.name else "")
        for gpu in gpu_ids:
            holders.setdefault(str(gpu), []).append(f"{label} (pid={rec.pid})")
        if not rec.granted and len(waiting) < MAX_WAITING:
            waiting.append(f"{label} asks for {rec.request.describe()}; free: {_describe(free)}")
        actors.append({
            "class_name": rec.spec.class_name, "name": rec.spec.name, "namespace": rec.spec.namespace,
            "state": rec.state.state, "pid": rec.pid, "gpu_ids": gpu_ids, "detached": bool(rec.spec.detached),
        })  # fmt: skip
    running = queued = waiting_args = 0
    for task_id, task in node.tasks.records.items():
        if scheduler.held(task_id) is not None and task.worker is not None:
            running += 1
            for gpu in task.assigned[1] if task.assigned else ():
                pid = task.worker.pid
                holders.setdefault(str(gpu), []).append(f"task {task.spec.name!r} (pid={pid})")
        elif scheduler.is_queued(task_id):
            queued += 1
            if len(waiting) < MAX_WAITING:
                waiting.append(f"task {task.spec.name!r} asks for {task.spec.request.describe()}; "
                               f"free: {_describe(free)}")  # fmt: skip
        else:
            waiting_args += 1
    groups = [
        {"id": pg_id, "name": g["name"], "state": g["state"], "strategy": g["strategy"],
         "bundles": list(g["bundles"].values())}
        for pg_id, g in node.placement.table().items() if g["state"] != "REMOVED"
    ]  # fmt: skip
    ids = [str(i) for i in range(int(scheduler.total.to_dict().get("GPU", 0)))]
    ids += sorted(set(holders) - set(ids))  # GPUs named by the driver's CUDA_VISIBLE_DEVICES
    gpus = [{"id": i, "holders": holders.get(i, [])} for i in ids]
    return {
        "total": scheduler.total.to_dict(), "available": free, "gpus": gpus, "actors": actors,
        "tasks": {"running": running, "queued": queued, "waiting_args": waiting_args},
        "placement_groups": groups, "waiting": waiting, "drivers": node.clients.drivers(),
    }  # fmt: skip


def _describe(resources: dict[str, float]) -> str:
    shown = {k: v for k, v in resources.items() if not k.startswith("node:") and k != "memory"}
    return "{" + ", ".join(f"{k}: {v:g}" for k, v in sorted(shown.items())) + "}"
