"""What the node keeps for each actor and each of its calls, and how their outcomes read."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from greenroom import exceptions
from greenroom.runtime import serialization, wire
from greenroom.runtime.actor_state import ActorState
from greenroom.runtime.worker_pool import WorkerProc
from greenroom.scheduler.resources import ResourceSet


@dataclass(slots=True, eq=False)
class Call:
    """An actor call on the node (the fields of wire.CallSpec, and its arguments' readiness)."""

    task_id: bytes
    method: str
    args_blob: bytes
    deps: list
    num_returns: int
    name: str
    pins: list
    ref_pins: list
    group: str | None
    max_task_retries: int | None
    generator: list | None  # [mode, backpressure] of a generator method
    deps_pending: int = 0
    sent_at: float = 0.0  # loop time it went to the actor's process (for the timeline)
    cancelled: bool = False  # cancel() was called while it ran: it ends as TaskCancelledError
    actor: Any = None  # its ActorRecord, for the state API (None: the actor does not exist)
    created_at: float = 0.0  # loop time it reached the node

    def object_ids(self) -> list:
        """The objects this call keeps alive until it ends: its ref arguments."""
        return [oid for _pos, oid in self.deps] + list(self.ref_pins)


@dataclass(slots=True, eq=False)
class ActorRecord:
    spec: wire.ActorSpec
    state: ActorState
    owner: int  # process that created it: 0 the driver, else a worker id
    request: ResourceSet
    placement: tuple | None
    worker: WorkerProc | None = None
    last_worker: WorkerProc | None = None  # its current or last process, to wait for its GPUs to be free
    granted: bool = False
    allocation: Any = None  # what the scheduler granted it, for its whole life
    assigned: list = field(default_factory=list)
    calls: dict = field(default_factory=dict)  # task id -> Call, every unfinished call
    holders: set = field(default_factory=set)
    pins: int = 0
    pinned_for_good: bool = False
    exiting: str | None = None  # why it ends itself (exit_actor(), __ray_terminate__)
    ctor_unpinned: bool = False  # constructor arguments are kept (for restarts) until death
    pid: int | None = None  # of its current (or last) process
    deps_pending: int = 0
    job: Any = None  # the job it was created for (node_jobs.Jobs), for its whole life
    env_vars: Any = None  # its runtime_env env_vars ((name, value) pairs), or its creator's
    init_sent_at: float = 0.0
    created_at: float = 0.0  # loop time it reached the node (the state API)
    created: bool = False  # its constructor returned, once at least

    def describe(self) -> str:
        return f"actor {self.spec.class_name} (id={self.spec.actor_id.hex()}, pid={self.pid})"


def cancelled_payload(call: Call) -> bytes:
    return serialization.dumps(exceptions.TaskCancelledError(f"actor call {call.name!r} was cancelled"))


def ctor_objects(spec: wire.ActorSpec) -> list:
    return [oid for _pos, oid in spec.deps] + list(spec.ref_pins)


def payload_text(payload: Any) -> str:
    try:
        return str(serialization.loads(payload))
    except Exception as e:
        return f"(unreadable error: {e})"
