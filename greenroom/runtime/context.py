"""What a running task knows about itself: ids, assigned resources, GPUs.

The context lives in a ContextVar so that each call sees its own (threaded
and async actors run several at once).
"""

from __future__ import annotations

import contextvars
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
    name: str = ""  # the task's (or actor call's) name
    actor_name: str | None = None
    actor_restarts: int = 0
    enforce: int = 0  # the enforcement mask it runs under (limits.py)


_task_context: contextvars.ContextVar[TaskContext | None] = contextvars.ContextVar(
    "greenroom_task_context", default=None
)


# Where the context comes from when no greenroom worker set one: a backend that runs work on
# another engine (greenroom.backends.ray) reads that engine's context instead. None: greenroom's own.
_source: list = [None]


def set_task_context(ctx: TaskContext | None) -> None:
    _task_context.set(ctx)


def set_context_source(source: Any) -> None:
    """``source()`` -> TaskContext | None, asked when this process's own context is unset."""
    _source[0] = source


def task_context() -> TaskContext | None:
    ctx = _task_context.get()
    if ctx is None and _source[0] is not None:
        return _source[0]()
    return ctx


def get_gpu_ids() -> list[int]:
    """The GPU ids reserved for the current task or actor ([] outside one, or without GPUs).

    ``CUDA_VISIBLE_DEVICES`` in the worker holds the same ids, comma-separated.
    """
    ctx = task_context()
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
