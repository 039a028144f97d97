"""Ray's ``ray.runtime_context``: what the current driver, task or actor knows of itself."""

from __future__ import annotations

import json
import os
from typing import Any

from greenroom.actors.handle import ActorHandle
from greenroom.runtime import state
from greenroom.runtime.context import get_gpu_ids, task_context
from greenroom.runtime.worker_pool import JOB_ENV_VARS, OWN_ENV_VARS
from greenroom.runtime_env import RuntimeEnv

__all__ = ["RuntimeContext", "get_runtime_context"]


class RuntimeContext:
    """Ids and resources of the current process and task (``get_runtime_context()``)."""

    def __init__(self, runtime: Any) -> None:
        self._runtime = runtime

    # -- the job and the node ----------------------------------------------------------------
    def get_job_id(self) -> str:
        return getattr(self._runtime, "job_id", "01000000")

    @property
    def job_id(self) -> str:
        return self.get_job_id()

    @property
    def namespace(self) -> str:
        """The job's namespace (also inside its tasks and actors)."""
        return getattr(self._runtime, "namespace", "default")

    def get_node_id(self) -> str:
        return getattr(self._runtime, "node_id", "")

    @property
    def node_id(self) -> str:
        return self.get_node_id()

    def get_worker_id(self) -> str:
        return f"{os.getpid():08x}"

    # -- the current task --------------------------------------------------------------------
    def get_task_id(self) -> str | None:
        ctx = task_context()
        return ctx.task_id.hex() if ctx is not None else None

    @property
    def task_id(self) -> str | None:
        return self.get_task_id()

    def get_task_name(self) -> str | None:
        """The task's name (``@remote(name=...)``, else its function's), or ``Class.method``."""
        ctx = task_context()
        return ctx.name if ctx is not None else None

    def get_assigned_resources(self) -> dict[str, float]:
        ctx = task_context()
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
        ctx = task_context()
        limits = getattr(self._runtime, "limits", None)
        if ctx is None or limits is None:
            return {}
        return limits.describe(ctx.enforce, ctx.assigned)

    def get_placement_group_id(self) -> str | None:
        ctx = task_context()
        return ctx.placement[0] if ctx is not None and ctx.placement else None

    def is_canceled(self) -> bool:
        """Whether ``cancel()`` was called for the current task or actor call: a long sync
        actor method can poll it and stop early.

        Raises:
            RuntimeError: called in the driver, outside any task.
        """
        ctx = task_context()
        if ctx is None:
            raise RuntimeError("is_canceled() is only meaningful inside a task or an actor method")
        return self._runtime.is_canceled(ctx.task_id)

    # -- the current actor -------------------------------------------------------------------
    def get_actor_id(self) -> str | None:
        ctx = task_context()
        return ctx.actor_id.hex() if ctx is not None and ctx.actor_id else None

    @property
    def actor_id(self) -> str | None:
        return self.get_actor_id()

    def get_actor_name(self) -> str | None:
        ctx = task_context()
        return ctx.actor_name if ctx is not None else None

    @property
    def was_current_actor_reconstructed(self) -> bool:
        """True in an actor restarted after its process died (``max_restarts``)."""
        ctx = task_context()
        return ctx is not None and ctx.actor_restarts > 0

    @property
    def current_actor(self) -> ActorHandle:
        """A handle to the actor this code runs in.

        Raises:
            RuntimeError: not inside an actor.
        """
        ctx = task_context()
        if ctx is None or ctx.actor_id is None:
            raise RuntimeError("current_actor is only available inside an actor")
        return ActorHandle(*self._runtime.call("actor_info", ctx.actor_id))

    @property
    def runtime_env(self) -> RuntimeEnv:
        """The runtime environment the current driver, task or actor runs with: its ``env_vars``
        (the job's, with its own on top), the one field greenroom's own node honours."""
        job = getattr(self._runtime, "job_env_vars", None)  # the driver's; a worker's is in its environment
        env_vars = dict(job) if job is not None else json.loads(os.environ.get(JOB_ENV_VARS, "{}"))
        env_vars.update(json.loads(os.environ.get(OWN_ENV_VARS, "{}")))
        return RuntimeEnv(env_vars=env_vars) if env_vars else RuntimeEnv()

    def get_runtime_env_string(self) -> str:
        """``runtime_env`` as JSON, as Ray's."""
        return json.dumps(self.runtime_env)

    def get(self) -> dict[str, Any]:
        out = {"job_id": self.get_job_id(), "node_id": self.get_node_id(), "namespace": self.namespace}
        if self.get_task_id() is not None:
            out["task_id"] = self.get_task_id()
        if self.get_actor_id() is not None:
            out["actor_id"] = self.get_actor_id()
        return out


def get_runtime_context() -> RuntimeContext:
    """Ids and assigned resources of the current driver, task or actor."""
    return RuntimeContext(state.runtime())
