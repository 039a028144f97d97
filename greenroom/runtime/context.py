"""What a running task knows about itself: ids, assigned resources, GPUs.

The context lives in a ContextVar so that each call sees its own (threaded
and async actors run several at once).
"""

from __future__ import annotations

import contextvars
import os
from dataclasses import dataclass, field
from typing import Any

from greenroom.runtime.limits import CPU_AFFINITY


@dataclass(frozen=True, slots=True)
class TaskContext:
    task_id: bytes
    # [resources as {name: amount}, gpu ids, cpu ids (or None)]: wire.Exec.assigned
    assigned: list = field(default_factory=lambda: [{}, []])
    actor_id: bytes | None = None
    placement: list | None = None  # wire.PlacementInfo of the group it runs in
    enforce: int = 0  # the enforcement mask it runs under (limits.py)


_task_context: contextvars.ContextVar[TaskContext | None] = contextvars.ContextVar(
    "greenroom_task_context", default=None
)


def set_task_context(ctx: TaskContext | None) -> None:
    _task_context.set(ctx)


def task_context() -> TaskContext | None:
    return _task_context.get()


def get_gpu_ids() -> list[int]:
    """The GPU ids reserved for the current task or actor ([] outside one, or without GPUs).

    ``CUDA_VISIBLE_DEVICES`` in the worker holds the same ids, comma-separated.
    """
    ctx = _task_context.get()
    if ctx is None:
        return []
    return list(ctx.assigned[1])


def get_cpu_ids() -> list[int]:
    """The CPU cores the current task or actor is pinned to ([] when it is not pinned).

    Pinning is opt-in: ``init(cpu_affinity=True)``. A task or actor asking for
    whole CPUs then runs on that many cores of its own; a fractional request
    shares one core with other fractional ones. Outside a task, or without
    pinning, this is ``[]``.
    """
    ctx = _task_context.get()
    if ctx is None or len(ctx.assigned) < 3 or not ctx.assigned[2] or not ctx.enforce & CPU_AFFINITY:
        return []
    return list(ctx.assigned[2])


class RuntimeContext:
    """Ray's ``get_runtime_context()``: ids and resources of the current process and task."""

    def __init__(self, job_id: str, namespace: str) -> None:
        self._job_id = job_id
        self.namespace = namespace

    def get_job_id(self) -> str:
        return self._job_id

    def get_task_id(self) -> str | None:
        ctx = _task_context.get()
        return ctx.task_id.hex() if ctx is not None else None

    def get_actor_id(self) -> str | None:
        ctx = _task_context.get()
        return ctx.actor_id.hex() if ctx is not None and ctx.actor_id else None

    def get_worker_id(self) -> str:
        return f"{os.getpid():08x}"

    def get_node_id(self) -> str:
        return "00" * 14 + "01"

    def get_assigned_resources(self) -> dict[str, float]:
        ctx = _task_context.get()
        return dict(ctx.assigned[0]) if ctx is not None else {}

    def get_accelerator_ids(self) -> dict[str, list[str]]:
        return {"GPU": [str(i) for i in get_gpu_ids()]}

    def get_resource_limits(self) -> dict[str, Any]:
        """What greenroom enforces on the current task or actor ({} outside one).

        Returns:
            ``threads``: the native thread-pool size set for it (None: left
            alone, e.g. the user set OMP_NUM_THREADS); ``cpu_ids``: the cores it
            is pinned to (None: not pinned); ``memory``: the resident-memory limit
            in bytes it is killed above (None: no limit); ``gpu_memory``: the cap
            set in each framework for a fractional GPU (None: none).
        """
        ctx = _task_context.get()
        if ctx is None:
            return {}
        from greenroom.runtime import state

        limits = getattr(state.current(), "limits", None)
        return limits.describe(ctx.enforce, ctx.assigned) if limits is not None else {}

    def get(self) -> dict[str, Any]:
        return {"job_id": self._job_id, "task_id": self.get_task_id(), "namespace": self.namespace}
