"""What a running task knows about itself: ids, assigned resources, GPUs.

The context lives in a ContextVar so that each call sees its own (threaded
and async actors run several at once).
"""

from __future__ import annotations

import contextvars
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class TaskContext:
    task_id: bytes
    # [resources as {name: amount}, gpu ids]: wire.Exec.assigned
    assigned: list = field(default_factory=lambda: [{}, []])
    actor_id: bytes | None = None
    placement: list | None = None  # wire.PlacementInfo of the group it runs in
    name: str = ""  # the task's (or actor call's) name
    actor_name: str | None = None
    actor_restarts: int = 0


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
