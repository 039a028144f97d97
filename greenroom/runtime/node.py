"""The node: the scheduler, the workers and the object table, run on one event loop.

The node is a set of collaborators that each own their state, wired here:

    NodeLoop          the loop thread and its inbox (node_loop.py)
    Tasks             remote function tasks, submission to result (node_tasks.py, node_pipeline.py)
    ActorHost         actors and their calls (actor_host.py)
    ObjectLifetimes   reference counts, pins, shared-memory blocks (node_objects.py)
    BlockingGets      get()/wait() in workers, the deadlock watch (node_gets.py)
    Streams           generator tasks' streams of items, backpressure (node_streams.py)
    PlacementGroups   placement groups (node_placement.py)
    WorkerPool        the zygote and worker processes (worker_pool.py)
    NodeState         what the state API and dashboard read; a key-value store (node_state.py)
    NodeMemory        the memory monitor: memory= limits, the node-wide guard (node_memory.py)
    GpuMemory         fractional GPUs' worker environments, GPU memory left behind (node_gpus.py)
    Scheduler         who may run now: pure logic (greenroom/scheduler)

This module routes: worker messages to their owner, the scheduler's grants to
tasks or actors, and the API (``api_*``, called through ``call``) to the
collaborator that answers it. A task's way: submit -> Tasks.accept -> the
scheduling pass (``_run_schedule``) -> Tasks.start_granted -> Tasks.dispatch
(EXEC) -> the worker's DONE -> Tasks.on_done -> ObjectLifetimes.complete_returns.

Shutdown order (``stop``): refuse new work, fail every pending object, close
worker sockets and the zygote's control socket (the zygote kills and reaps
every worker, then exits), wait for the zygote, cancel owned asyncio tasks,
stop the loop.
"""

from __future__ import annotations

import socket
import sys
import time
import traceback
from typing import Any

from greenroom import _config as config
from greenroom import exceptions
from greenroom.runtime import node_requests, node_status, object_store, serialization, wire
from greenroom.runtime.actor_host import ActorHost
from greenroom.runtime.assignments import Assignments
from greenroom.runtime.handles import ACTOR, OBJECT
from greenroom.runtime.limits import CPU_AFFINITY, NodeEnforcement
from greenroom.runtime.node_clients import ClientConn, Clients, task_owner
from greenroom.runtime.node_gets import BlockingGets
from greenroom.runtime.node_gpus import GpuMemory
from greenroom.runtime.node_jobs import Jobs
from greenroom.runtime.node_loop import NodeLoop
from greenroom.runtime.node_memory import NodeMemory
from greenroom.runtime.node_objects import ObjectLifetimes
from greenroom.runtime.node_placement import PlacementGroups
from greenroom.runtime.node_state import NodeState
from greenroom.runtime.node_streams import Streams
from greenroom.runtime.node_tasks import Tasks
from greenroom.runtime.node_timeline import Timeline
from greenroom.runtime.object_ref import return_ids
from greenroom.runtime.object_table import ObjectTable
from greenroom.runtime.task_spec import TaskSpec
from greenroom.runtime.worker_pool import WorkerPool, WorkerProc
from greenroom.scheduler.queue import Scheduler
from greenroom.scheduler.resources import ResourceSet


class Node:
    """Wires the collaborators and routes between them; see the module docstring."""

    def __init__(
        self, total: ResourceSet, *, log_to_driver: bool = True, gpu_names: list[str] | None = None,
        store_size: int = 1 << 30, job: dict | None = None, preload: list[str] | None = None,
        enforcement: NodeEnforcement | None = None, env_vars: dict[str, str] | None = None,
    ) -> None:  # fmt: skip
        self.job = job or {"namespace": "default", "job_id": "01000000", "node_id": "", "node_ip": "127.0.0.1"}
        self.namespace = self.job["namespace"]  # the job's: named actors created without one go here
        self.enforcement = enforcement or NodeEnforcement()
        self.closed = False
        self.broken: str | None = None  # why the node can't start workers any more
        self._schedule_pending = False
        pin = bool(self.enforcement.effective_mask & CPU_AFFINITY)
        self.scheduler = Scheduler(total, cpu_ids=pin)
        # GPU ids as the driver's CUDA_VISIBLE_DEVICES names them; cores of this machine (wrapping
        # when num_cpus exceeds them).
        self.assigned = Assignments(gpu_names, config.machine_cores() if pin else [])
        self.arena = object_store.Arena.create(store_size)
        self.allocator = object_store.Allocator(store_size)
        self.objects = ObjectTable()
        self.loop = NodeLoop(after_drain=self._schedule_now)
        self.pool = WorkerPool(
            self._on_message, self._on_worker_ready, self._on_worker_lost, log_to_driver,
            on_zygote_lost=self._on_zygote_lost, arena=self.arena, on_handler_error=self._on_handler_error,
            preload=preload, job=self.job, env_vars=env_vars,
        )  # fmt: skip
        self.lifetimes = ObjectLifetimes(self.objects, self.allocator)
        self.placement = PlacementGroups(self.scheduler, self.objects, self._schedule)
        mask = self.enforcement.effective_mask
        self.gpus = GpuMemory(gpu_names, has_gpus=total.get("GPU") > 0, enforce=mask, own=self.loop.own,
                              release=self._release)  # fmt: skip
        self.memory = NodeMemory(self.pool, self.enforcement)
        self.timeline = Timeline(clock_now=time.monotonic())  # uvloop's clock is the monotonic one
        self.streams = Streams(self.lifetimes, give_back=lambda w: self.tasks.pipeline.give_back(w))
        self.state = NodeState(self)  # the state API's rows, finished tasks, the key-value store
        shared = dict(placement_info=self.placement.info, assigned=self.assigned, broken=lambda: self.broken,
                      schedule=self._schedule, timeline=self.timeline, enforce=mask, history=self.state.history,
                      gpus=self.gpus, stream_raised=self.streams.raised)  # fmt: skip
        self.actors = ActorHost(self.loop, self.scheduler, self.lifetimes, self.pool, **shared)
        self.gets = BlockingGets(
            self.loop, self.objects, self.scheduler, task_record=lambda key: self.tasks.record(key),
            describe_actor=self.actors.describe, actor_placement=self.actors.placement_of,
            group_total=self.placement.total, schedule=self._schedule,
        )  # fmt: skip
        self.tasks = Tasks(self.loop, self.scheduler, self.lifetimes, self.pool, pin_actors=self.actors.pin,
                           drop_get=self.gets.drop, **shared)  # fmt: skip
        self.clients = Clients(next_id=self.pool.new_id, job=self.job, store=self.arena, on_message=self._on_message,
                               on_lost=self._on_client_lost, add_path=self.pool.add_path)  # fmt: skip
        self.jobs = self.tasks.jobs = self.actors.jobs = Jobs(self.job, self.clients, self.pool)

    # -- lifecycle (driver thread) ---------------------------------------------------------
    def start(self) -> None:
        self.loop.start(self._started)

    def _started(self, loop: Any) -> None:
        self.pool.start(loop)
        self.memory.start(loop)

    def stop(self) -> None:
        if not self.loop.running or self.closed:
            self.closed = True
            self.arena.close()
            return
        self.closed = True
        try:
            self.loop.run_and_stop(self._close)
        finally:
            self.arena.close()

    def listen(self, path: str) -> None:
        """Serve attached drivers on a Unix socket at ``path`` (a head; node_clients.py)."""
        self.loop.call(lambda: self.loop.own(self.clients.listen(path)))

    async def _close(self) -> None:
        self.clients.close()
        lost = exceptions.ObjectLostError("the greenroom node shut down before this object was ready")
        self.lifetimes.fail_pending(wire.SYSTEM_ERROR, serialization.dumps(lost))
        self.memory.stop()
        self.pool.close()
        self.gpus.close()

    def _on_zygote_lost(self, reason: str) -> None:
        """No new worker can start: fail everything waiting instead of hanging."""
        self.broken = reason
        error = exceptions.RaySystemError(
            f"{reason}; no worker can start. Call greenroom.shutdown() and greenroom.init() again."
        )
        self.lifetimes.fail_pending(wire.SYSTEM_ERROR, serialization.dumps(error))

    def _on_handler_error(self, w: WorkerProc, msg: Any, error: Exception) -> None:
        """greenroom failed handling a worker's message: report it loudly, and fail the
        call it answered rather than leave its caller waiting forever."""
        text = "".join(traceback.format_exception(type(error), error, error.__traceback__))
        print(f"greenroom: internal error handling a message from worker pid={w.pid}:\n{text}", file=sys.stderr)
        if isinstance(msg, wire.Done):
            payload = serialization.dumps(exceptions.RaySystemError(f"greenroom failed to store this result:\n{text}"))
            for oid in return_ids(msg.task_id, max(len(msg.payloads), 1)):
                entry = self.objects.get(oid)
                if entry is not None and entry.kind is None:
                    self.objects.complete(oid, wire.SYSTEM_ERROR, payload)

    def check_usable(self) -> None:
        if self.closed:
            raise exceptions.RaySystemError("greenroom has been shut down; call greenroom.init() again")
        if self.broken:
            raise exceptions.RaySystemError(f"{self.broken}; call greenroom.shutdown() and greenroom.init() again")

    def call(self, method: str, *args: Any) -> Any:
        """Run ``api_<method>(*args)`` on the loop and return its result (driver threads)."""
        self.check_usable()
        return self.loop.call(getattr(self, "api_" + method), *args)

    def submit_threadsafe(self, spec: TaskSpec) -> None:
        """Queue a task from any thread; one wakeup serves a burst of submissions."""
        self.loop.post(self.tasks.accept, spec)

    # -- scheduling ------------------------------------------------------------------------
    def _schedule(self) -> None:
        """Run a scheduling pass soon (once per loop turn, however often asked)."""
        if not self._schedule_pending and self._needs_schedule():
            self._schedule_pending = True
            self.loop.loop.call_soon(self._run_schedule)

    def _release(self, key: Any) -> None:
        """Give a task's or actor's resources back (a GPU held until its process ended) and schedule."""
        self.scheduler.release(key)
        self._schedule()

    def _needs_schedule(self) -> bool:
        return self.scheduler.has_waiting() or self.gets.any

    def _schedule_now(self) -> None:
        if self._needs_schedule():
            self._run_schedule()

    def _run_schedule(self) -> None:
        self._schedule_pending = False
        if self.broken:  # nothing can start; _on_zygote_lost failed what was waiting
            return
        decisions = self.scheduler.schedule()
        for pg_id in decisions.placement_groups_ready:
            self.placement.placed(pg_id)
        for grant in decisions.grants:
            if not self.tasks.start_granted(grant) and not self.actors.granted(grant.key, grant.allocation):
                self.scheduler.release(grant.key)  # ended while it waited
        if self.gets.any:
            self.gets.check_deadlock()

    # -- workers ---------------------------------------------------------------------------
    def _on_worker_ready(self, w: WorkerProc) -> None:
        if w.actor is not None:
            self.actors.worker_ready(w)
        elif w.task is not None:
            self.tasks.dispatch(w, w.task)

    def _on_message(self, w: WorkerProc, msg: Any) -> None:
        if type(msg) is wire.Done:
            self.lifetimes.claim(w.id, msg.payloads)
            if msg.printed:  # forward what it printed before its result arrives
                w.drain_output()
            if w.actor is not None:
                self.actors.on_done(w, msg)
            else:
                self.tasks.on_done(w, msg)
            self._reference_events(w.id, msg.dropped)  # after its result's pins
        elif type(msg) is wire.Request:
            node_requests.serve(self, w, msg)
        elif type(msg) is wire.Yielded:
            self.streams.on_yielded(w, msg)
        elif type(msg) is wire.Handles:
            self._reference_events(w.id, msg.events)
        elif type(msg) is wire.Recalled:
            self.tasks.on_recalled(w, msg)
        elif type(msg) is wire.ActorExiting:
            self.actors.on_exit_notice(w, msg.reason)

    def _reference_events(self, process: int, events: list) -> None:
        for kind, key, delta in events:
            self.reference_event(process, kind, key, delta)

    def reference_event(self, process: int, kind: str, key: bytes, delta: int) -> None:
        """A process gained (+1) or lost (-1) its last ref to an object or handle to an actor,
        or dropped a streaming generator after taking ``delta`` of its items (STREAM)."""
        if kind == OBJECT:
            self.lifetimes.reference_event(process, key, delta)
        elif kind == ACTOR:
            self.actors.handle_event(process, key, delta)
        else:
            self.streams.drop(process, key, delta)

    def _on_worker_lost(self, w: WorkerProc) -> None:
        self.pool.forget(w)
        self.memory.worker_lost(w)
        self.gpus.worker_gone(w)
        for fd in list(w.out):
            w._read_output(fd)
        if self.closed:
            return
        self.tasks.on_worker_lost(w)
        if w.actor is not None:
            self.actors.on_lost(w)
        self._process_gone(w.id)

    def _on_client_lost(self, conn: ClientConn) -> None:
        """An attached driver went away: its job ends, as in Ray (its tasks are cancelled)."""
        if not self.closed:
            for task_id in [t for t in self.tasks.records if task_owner(t) == conn.id]:
                self.tasks.cancel(task_id, True)
            self._process_gone(conn.id)

    def _process_gone(self, process: int) -> None:
        self.actors.process_gone(process)
        for pg_id in self.placement.owned_by(process):  # as in Ray, a group fate-shares with its creator
            self.api_remove_placement_group(pg_id)
        self.streams.process_gone(process)
        self.lifetimes.release_process(process)

    # -- the API (through call(), on the loop) ------------------------------------------------
    def api_cancel(self, object_id: bytes, force: bool) -> None:
        if not self.tasks.cancel(object_id, force):
            self.actors.cancel(object_id[:12], force)
        self.streams.cancel(object_id[:12])

    def api_stream_take(self, task_id: bytes, index: int, peek: bool) -> int | None:
        return self.streams.take(task_id, index, peek)

    def api_create_actor(self, spec: Any, owner: int, get_if_exists: bool) -> list:
        spec = wire.ActorSpec._make(spec)
        if spec.namespace is None:  # the job's
            spec = spec._replace(namespace=self.jobs.of_process(owner)["namespace"])
        return self.actors.create(spec, owner, get_if_exists)

    def api_get_actor(self, name: str, namespace: str | None) -> list:
        return self.actors.get_actor(name, namespace or self.namespace)

    def api_actor_info(self, actor_id: bytes) -> list:
        return self.actors.info(self.actors.actors[actor_id])

    def api_list_named_actors(self, all_namespaces: bool, namespace: str | None = None) -> list:
        return self.actors.named(namespace or self.namespace, all_namespaces)

    def api_infeasible_reason(self, request: ResourceSet, placement: Any) -> str | None:
        return self.scheduler.infeasible_reason(request, placement)

    def api_status(self) -> dict:
        """What ``greenroom status`` shows (node_status.py)."""
        return node_status.status(self)

    def api_kill_actor(self, actor_id: bytes, no_restart: bool) -> Any:
        """Kill an actor; for a GPU actor, the task that frees its GPUs (call() waits for it)."""
        return self.actors.kill(actor_id, no_restart)

    def api_done_ids(self, ids: list[bytes]) -> list[bytes]:
        entries = self.objects.entries
        return [oid for oid in ids if (entry := entries.get(oid)) is None or entry.kind is not None]

    def api_sync(self) -> None:
        """Nothing: returning means everything posted before it was applied."""

    def api_allocate(self, nbytes: int) -> int:
        return self.lifetimes.allocate(nbytes)

    def api_preload(self, modules: list[str]) -> None:
        """Have every worker started from now on begin with these greenroom modules imported."""
        self.pool.preload(modules)

    def api_create_placement_group(self, bundles: list[dict], strategy: str, name: str, detached: bool = False,
                                   owner: int = 0) -> list:  # fmt: skip
        return self.placement.create(bundles, strategy, name, detached, owner)

    def api_remove_placement_group(self, pg_id: str) -> None:
        for key in self.placement.remove(pg_id):
            self.tasks.fail_queued(key, f"was queued in placement group {pg_id}, which was removed")

    def api_get_placement_group(self, name: str) -> Any:
        return self.placement.by_name(name)

    def api_placement_group_table(self) -> dict:
        return self.placement.table()

    def api_timeline(self) -> list[dict]:
        return self.timeline.chrome_trace()

    def api_state(self, op: str, *args: Any) -> Any:
        """The state API and the node's key-value store (node_state.py)."""
        return self.state.answer(op, *args)

    def api_nodes(self) -> list[dict]:
        """This node as Ray's ``ray.nodes()`` describes a node."""
        job = self.job
        return [{
            "NodeID": job["node_id"], "Alive": True, "alive": True, "NodeManagerAddress": job["node_ip"],
            "NodeManagerHostname": socket.gethostname(), "NodeName": job["node_ip"], "NodeManagerPort": 0,
            "ObjectManagerPort": 0, "ObjectStoreSocketName": "", "RayletSocketName": "",
            "MetricsExportPort": 0, "Resources": self.api_cluster_resources(), "Labels": {},
        }]  # fmt: skip

    def api_cluster_resources(self) -> dict:
        return self.scheduler.total.to_dict()

    def api_available_resources(self) -> dict:
        return {k: v for k, v in self.scheduler.available.to_dict().items() if v > 0}
