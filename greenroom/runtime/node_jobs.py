"""Whose work is it: the job (and runtime_env env_vars) the work a process submits runs with.

An attached driver's work runs as its own job; a worker's, as the job of the task or actor
it runs, so nested work stays in its driver's job, and inherits its caller's env_vars, as in
Ray. The embedded driver's and the head's own work is the node's job.
"""

from __future__ import annotations

from typing import Any

from greenroom.runtime.node_clients import Clients, job_number, task_owner
from greenroom.runtime.worker_pool import WorkerPool


class Jobs:
    """Answers for ``Tasks`` and ``ActorHost`` (owned by the node)."""

    def __init__(self, node_job: dict, clients: Clients, pool: WorkerPool) -> None:
        self.node_job = node_job
        self.clients = clients
        self.pool = pool
        self.env_vars_seen = False  # work with env_vars of its own came: later work may inherit them

    def of_process(self, process: int) -> dict:
        """The job the work ``process`` submits runs for (see the module docstring)."""
        conn = self.clients.conns.get(process)
        if conn is not None:
            return conn.job
        w = self.pool.workers.get(process)
        if w is not None:
            if w.actor is not None:
                return w.actor.job
            if w.task is not None:
                return w.task.job
        return self.node_job

    def of_task(self, task_id: bytes) -> dict:
        """The job a new task runs for: its submitter's."""
        if not self.clients.shared:  # only the node's own job has ever run here
            return self.node_job
        return self.of_process(task_owner(task_id))

    def key(self, job: dict) -> int:
        """A job as the scheduler shares the node between jobs: 0 for the node's own, else its number."""
        return 0 if job is self.node_job else job_number(job["job_id"])

    def env_vars_for(self, own: Any, process: int) -> Any:
        """The runtime_env env_vars new work submitted by ``process`` runs with: its ``own``, or
        (None) its caller's, as in Ray."""
        if own is not None:
            self.env_vars_seen = self.env_vars_seen or bool(own)
            return own
        return self.env_vars_of_process(process) if self.env_vars_seen else None

    def env_vars_of_process(self, process: int) -> Any:
        """The runtime_env env_vars of the work ``process`` runs (a worker's task or actor), which
        the work it submits inherits; None for a driver (its job's are every worker's already)."""
        w = self.pool.workers.get(process)
        if w is None:
            return None
        if w.actor is not None:
            return w.actor.env_vars
        return w.task.spec.env_vars if w.task is not None else None
