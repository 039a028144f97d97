"""The node's side of actors: create, route calls, notice deaths, restart, names, scope.

Runs on the node's loop only. Each actor owns one worker process, started for
it with its GPU ids already in ``CUDA_VISIBLE_DEVICES``; its resources are held
(under the scheduler key ``actor_id``) from creation until it is dead for good,
across restarts. Lifecycle decisions come from the pure ``ActorState``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from greenroom import exceptions
from greenroom.runtime import serialization, wire
from greenroom.runtime.actor_records import ActorRecord, Call, cancelled_payload, ctor_objects, payload_text
from greenroom.runtime.actor_state import ALIVE, DEAD, PENDING, ActorState
from greenroom.runtime.node_gpus import GpuMemory
from greenroom.runtime.node_loop import NodeLoop
from greenroom.runtime.node_objects import ObjectLifetimes
from greenroom.runtime.object_ref import return_ids
from greenroom.runtime.worker_pool import WorkerPool, WorkerProc, describe_exit, with_env_vars
from greenroom.scheduler.errors import Unschedulable
from greenroom.scheduler.queue import Scheduler
from greenroom.scheduler.resources import ResourceSet


class ActorHost:
    """Owns the node's actors and their names."""

    def __init__(self, loop: NodeLoop, scheduler: Scheduler, lifetimes: ObjectLifetimes, pool: WorkerPool,
                 *, placement_info: Callable[[Any], Any], assigned: Callable[[Any], list],
                 broken: Callable[[], str | None], schedule: Callable[[], None], timeline: Any, enforce: int,
                 gpus: GpuMemory, stream_raised: Callable[[bytes, list], tuple[int, list]],
                 history: Any) -> None:  # fmt: skip
        self.loop = loop
        self.history = history  # finished calls, for the state API (node_state.TaskHistory)
        self.timeline = timeline
        self.scheduler = scheduler
        self.lifetimes = lifetimes
        self.objects = lifetimes.objects
        self.pool = pool
        self.placement_info = placement_info
        self.assigned = assigned
        self.broken = broken
        self.schedule = schedule
        self.enforce = enforce  # the node's enforcement mask (limits.py), ANDed with each actor's
        self.gpus = gpus  # GPU workers' environments; GPUs held until a worker's process is gone
        self.stream_raised = stream_raised  # a streaming call's error becomes its last item (node_streams.py)
        self.actors: dict[bytes, ActorRecord] = {}
        self.names: dict[tuple[str, str], bytes] = {}
        self.jobs: Any = None  # node_jobs.Jobs: whose work an actor is (set by the node)

    # -- creation ------------------------------------------------------------------------
    def create(self, spec: wire.ActorSpec, owner: int, get_if_exists: bool) -> list:
        if spec.name:
            existing = self.names.get((spec.namespace, spec.name))
            if existing is not None:
                if get_if_exists:
                    return self.info(self.actors[existing])
                raise exceptions.ActorAlreadyExistsError(
                    f"an actor named {spec.name!r} already exists in namespace {spec.namespace!r}; "
                    "pick another name, or pass get_if_exists=True to get the existing actor"
                )
        request = ResourceSet.from_units(spec.request)
        placement = tuple(spec.placement) if spec.placement else None
        reason = self.scheduler.infeasible_reason(request, placement)
        if reason:
            raise exceptions.ActorUnschedulableError(f"actor {spec.class_name}: {reason}")
        rec = ActorRecord(spec, ActorState(spec.max_restarts, spec.max_task_retries), owner, request, placement)
        rec.job = self.jobs.of_process(owner)
        rec.env_vars = self.jobs.env_vars_for(spec.env_vars, owner)
        rec.created_at = self.loop.loop.time()
        rec.holders.add(owner)
        self.actors[spec.actor_id] = rec
        if spec.name:
            self.names[(spec.namespace, spec.name)] = spec.actor_id
        self.pin(spec.pins, +1)
        self.lifetimes.pin(ctor_objects(spec), +1)
        for dep in spec.deps:
            if self.objects.on_ready(dep[1], lambda _o, _e, r=rec: self.loop.on_loop(self._ctor_dep_ready, r)):
                rec.deps_pending += 1
        if rec.deps_pending == 0:
            self._queue_creation(rec)
        return self.info(rec)

    def placement_of(self, actor_id: bytes) -> tuple | None:
        rec = self.actors.get(actor_id)
        return rec.placement if rec is not None else None

    def describe(self, actor_id: bytes) -> str | None:
        rec = self.actors.get(actor_id)
        return rec.describe() if rec is not None else None

    def info(self, rec: ActorRecord) -> list:
        """What a handle is made of (ActorHandle's arguments)."""
        s = rec.spec
        extras = {"max_pending_calls": s.max_pending_calls, "concurrency_groups": sorted(s.concurrency_groups)}
        return [s.actor_id, s.class_name, s.methods, s.is_async, extras]

    def cancel(self, call_id: bytes, force: bool) -> bool:
        """cancel() of an actor call; False if no unfinished actor call has that id."""
        rec = next((r for r in self.actors.values() if call_id in r.calls), None)
        if rec is None:
            return False
        if force:
            raise ValueError(
                "cancel(force=True) is not supported for actor calls: an actor keeps state, so its "
                "process is not killed for one call. Use force=False (an async actor's call is "
                "cancelled; a sync one can poll get_runtime_context().is_canceled()), or kill() the actor"
            )
        call = rec.calls[call_id]
        if rec.state.cancel_queued(call_id):  # not sent yet: it never runs
            del rec.calls[call_id]
            self._end_call(call, wire.SYSTEM_ERROR, [cancelled_payload(call)] * call.num_returns)
        elif not call.cancelled:
            call.cancelled = True
            if rec.worker is not None:
                rec.worker.send(wire.CancelCall(call_id))
        return True

    def _ctor_dep_ready(self, rec: ActorRecord) -> None:
        rec.deps_pending -= 1
        if rec.deps_pending == 0:
            self._queue_creation(rec)

    def _queue_creation(self, rec: ActorRecord) -> None:
        if rec.state.state == DEAD:
            return
        for _pos, oid in rec.spec.deps:
            entry = self.objects.get(oid)
            if entry.kind != wire.VALUE:
                self._die(rec, f"an argument of its constructor failed: {payload_text(entry.payload)}")
                return
        try:
            self.scheduler.submit(rec.spec.actor_id, rec.request, rec.placement, self.jobs.key(rec.job))
        except Unschedulable as e:
            self._die(rec, str(e))
            return
        self.schedule()

    def granted(self, actor_id: bytes, allocation: Any) -> bool:
        """The scheduler granted an actor's resources: start its process. False if not an actor."""
        rec = self.actors.get(actor_id)
        if rec is None:
            return False
        if rec.state.state == DEAD:
            self.scheduler.release(actor_id)
            return True
        rec.granted = True
        rec.allocation = allocation
        rec.assigned = self.assigned(allocation)
        self._start_process(rec)
        return True

    def _start_process(self, rec: ActorRecord) -> None:
        broken = self.broken()
        if broken:
            self._die(rec, broken)
            return
        enforce = rec.spec.enforce & self.enforce
        key, env = self.gpus.worker_for(rec.allocation, rec.assigned[1], enforce)
        w = self.pool.spawn(*with_env_vars(key, env, rec.env_vars))
        w.actor = rec
        rec.worker = rec.last_worker = w

    def worker_ready(self, w: WorkerProc) -> None:
        rec = w.actor
        rec.pid = w.pid
        w.started_at = self.loop.loop.time()
        s = rec.spec
        deps = [[pos, wire.VALUE, self.objects.get(oid).payload] for pos, oid in s.deps]
        rec.init_sent_at = self.loop.loop.time()
        w.send(wire.ActorInit(s.actor_id, s.class_blob, s.args_blob, deps, rec.assigned, s.max_concurrency,
                              s.is_async, s.class_name, self.placement_info(rec.placement), s.name,
                              rec.state.restarts, s.capture, s.concurrency_groups,
                              s.enforce & self.enforce, rec.job))  # fmt: skip

    # -- calls ---------------------------------------------------------------------------
    def submit_call(self, actor_id: bytes, call_spec: wire.CallSpec, holder: int = 0) -> None:
        call = Call(*call_spec)
        call.created_at = self.loop.loop.time()
        self.lifetimes.create_held(return_ids(call.task_id, call.num_returns), call.name, holder)
        rec = call.actor = self.actors.get(actor_id)
        if rec is None:
            self._fail_call(call, exceptions.ActorDiedError(f"actor {actor_id.hex()} does not exist on this node"))
            return
        if rec.state.state == DEAD:
            self._fail_call(call, self._died_error(rec, call))
            return
        self.pin(call.pins, +1)
        self.lifetimes.pin(call.object_ids(), +1)
        rec.calls[call.task_id] = call
        for dep in call.deps:
            if self.objects.on_ready(dep[1], lambda _o, _e, r=rec, c=call: self.loop.on_loop(self._call_dep_ready, r, c)):
                call.deps_pending += 1
        rec.state.submit(call.task_id, call.max_task_retries)
        self._pump(rec)

    def _call_dep_ready(self, rec: ActorRecord, call: Call) -> None:
        call.deps_pending -= 1
        if call.deps_pending == 0:
            self._pump(rec)

    def _pump(self, rec: ActorRecord) -> None:
        """Send calls in submission order; a call still waiting for its arguments holds back later ones."""
        if rec.state.state != ALIVE or rec.worker is None or not rec.worker.ready:
            return
        objects = self.objects
        ready = lambda key: key not in rec.calls or not rec.calls[key].deps_pending  # noqa: E731
        in_order = not rec.spec.is_async and rec.spec.max_concurrency == 1 and not rec.spec.concurrency_groups
        for key in rec.state.sendable(ready, in_order):
            call = rec.calls.get(key)
            if call is None:
                rec.state.done(key)
                continue
            failed = next((oid for _p, oid in call.deps if objects.get(oid).kind != wire.VALUE), None)
            if failed is not None:  # an argument failed: so does the call, as in Ray
                rec.state.done(key)
                rec.calls.pop(key)
                entry = objects.get(failed)
                self._end_call(call, entry.kind, [entry.payload] * call.num_returns)
                continue
            deps = [[pos, wire.VALUE, objects.get(oid).payload] for pos, oid in call.deps]
            call.sent_at = self.loop.loop.time()
            rec.worker.send(wire.ActorCall(call.task_id, call.method, call.args_blob, deps, call.num_returns,
                                           call.name, call.group, call.generator))  # fmt: skip

    def on_done(self, w: WorkerProc, done: wire.Done) -> None:
        task_id, kind, payloads = done.task_id, done.kind, done.payloads
        rec = w.actor
        if task_id == rec.spec.actor_id:  # the constructor finished
            self.timeline.record("actor_creation", f"{rec.spec.class_name}.__init__", w.pid, rec.init_sent_at,
                                 self.loop.loop.time(), rec.assigned[1])  # fmt: skip
            if kind == wire.VALUE:
                rec.created = True
                rec.state.created()
                self._pump(rec)
            else:
                self._die(rec, "its constructor raised:\n" + payload_text(payloads[0]))
            return
        call = rec.calls.pop(task_id, None)
        if call is None:
            return
        self.timeline.record("actor_call", call.name, w.pid, call.sent_at, self.loop.loop.time(), rec.assigned[1])
        rec.state.done(task_id)
        if call.cancelled:
            kind, payloads = wire.SYSTEM_ERROR, [cancelled_payload(call)] * call.num_returns
        if len(payloads) != call.num_returns:
            payloads = payloads * call.num_returns
        if kind == wire.TASK_ERROR and call.generator is not None:
            kind, payloads = self.stream_raised(task_id, payloads)
        self._end_call(call, kind, payloads, done.contains)
        if rec.state.terminate_when_idle and rec.state.idle():
            self._die(rec, "all handles to it went out of scope", graceful=True)

    # -- death and restarts -------------------------------------------------------------
    def on_exit_notice(self, w: WorkerProc, reason: str) -> None:
        if w.actor is not None:
            w.actor.exiting = reason

    def on_lost(self, w: WorkerProc) -> None:
        rec = w.actor
        if rec is None or rec.worker is not w or rec.state.state == DEAD:
            return
        rec.worker = None
        self.loop.own(self._after_death(rec, w))

    async def _after_death(self, rec: ActorRecord, w: WorkerProc) -> None:
        try:
            code = await asyncio.wait_for(asyncio.shield(w.exit_code), 2.0)
        except asyncio.TimeoutError:
            code = None
        if rec.state.state == DEAD:
            return
        if rec.exiting:
            self._die(rec, rec.exiting)
            return
        reason = f"its process (pid={w.pid}) died: {w.lost_reason or describe_exit(code)}"
        if w.out_of_memory:  # the memory monitor killed it (node_memory.py)
            reason = (f"its process (pid={w.pid}) ran out of memory: {w.lost_reason}. "
                      f"To fix it: {w.out_of_memory}")  # fmt: skip
        decision = rec.state.process_died(reason)
        if not decision.restart:  # dead for good: every unfinished call fails with the cause
            self._die(rec, reason, out_of_memory=bool(w.out_of_memory))
            return
        if self.gpus.holds(rec.assigned[1], rec.spec.enforce & self.enforce):
            await self.gpus.wait_gone(w, rec.describe())  # the restart gets the same GPUs: once free
            if rec.state.state == DEAD:
                return
        for task_id in decision.fail:
            call = rec.calls.pop(task_id, None)
            if call is not None:
                error = exceptions.OutOfMemoryError if w.out_of_memory else exceptions.ActorDiedError
                self._fail_call(call, error(
                    f"{rec.describe()} restarted while call {call.name!r} ran ({reason}); the call was not "
                    "retried: set max_task_retries to retry calls on a restarted actor"
                ))  # fmt: skip
        self._start_process(rec)  # same resources and GPU ids: the allocation is kept

    def kill(self, actor_id: bytes, no_restart: bool) -> Any:
        """kill(): returns the task that frees its GPUs once its process is gone (None without GPUs),
        so that kill() returns with the GPUs free, as the README promises."""
        rec = self.actors.get(actor_id)
        if rec is None or rec.state.state == DEAD:
            return None
        if no_restart:
            return self._die(rec, "it was killed with kill()")
        if rec.worker is not None:
            rec.worker.kill()
        return None

    def _die(self, rec: ActorRecord, reason: str, *, graceful: bool = False,
             out_of_memory: bool = False) -> Any:  # fmt: skip
        """Dead for good: fail every unfinished call (with OutOfMemoryError when the memory monitor
        killed it: they were part of what used the memory), stop the process, free resources and name.
        Returns the task freeing its GPUs once its process is gone, or None."""
        rec.state.killed(reason)
        for call in list(rec.calls.values()):
            error = self._died_error(rec, call)
            if out_of_memory:
                error = exceptions.OutOfMemoryError(str(error))
            self._fail_call(call, error)
        rec.calls.clear()
        w, rec.worker = rec.worker, None
        if w is not None:
            if graceful:
                self.pool.retire(w)
            else:
                w.kill()
        last, freeing = rec.last_worker, None
        gpu_wait = last is not None and self.gpus.holds(rec.assigned[1], rec.spec.enforce & self.enforce)
        if rec.granted and gpu_wait:
            rec.granted = False  # its GPUs are granted again once its process is gone (node_gpus.py)
            freeing = self.gpus.release_after_exit(last, rec.spec.actor_id, rec.describe())
        elif rec.granted:
            rec.granted = False
            self.scheduler.release(rec.spec.actor_id)
        else:
            self.scheduler.cancel(rec.spec.actor_id)
        if rec.spec.name and self.names.get((rec.spec.namespace, rec.spec.name)) == rec.spec.actor_id:
            del self.names[(rec.spec.namespace, rec.spec.name)]
        self.pin(rec.spec.pins, -1)
        if not rec.ctor_unpinned:
            rec.ctor_unpinned = True
            self.lifetimes.pin(ctor_objects(rec.spec), -1)
        self.schedule()
        return freeing

    def _died_error(self, rec: ActorRecord, call: Call) -> exceptions.ActorDiedError:
        return exceptions.ActorDiedError(
            f"{rec.describe()} is dead: {rec.state.death_reason}. Call {call.name!r} did not complete."
        )

    def _fail_call(self, call: Call, error: BaseException) -> None:
        payload = serialization.dumps(error)
        self._end_call(call, wire.SYSTEM_ERROR, [payload] * call.num_returns)

    def _end_call(self, call: Call, kind: int, payloads: list, contains: list | None = None) -> None:
        """Store a call's outcome and let go of what it kept alive."""
        self.lifetimes.complete_returns(call.task_id, call.num_returns, kind, payloads, contains)
        self.history.call_ended(call, kind, payloads)
        self.pin(call.pins, -1)
        self.lifetimes.pin(call.object_ids(), -1)

    # -- names and scope -------------------------------------------------------------------
    def get_actor(self, name: str, namespace: str) -> list:
        actor_id = self.names.get((namespace, name))
        if actor_id is None:
            raise ValueError(f"no actor named {name!r} in namespace {namespace!r}")
        return self.info(self.actors[actor_id])

    def named(self, namespace: str, all_namespaces: bool) -> list[list[str]]:
        """``[namespace, name]`` of each live named actor, in ``namespace`` or in all of them."""
        return [[ns, name] for ns, name in self.names if all_namespaces or ns == namespace]

    def handle_event(self, process: int, actor_id: bytes, delta: int) -> None:
        rec = self.actors.get(actor_id)
        if rec is None or rec.state.state == DEAD:
            return
        if delta > 0:
            rec.holders.add(process)
        elif delta < 0:
            rec.holders.discard(process)
            self._check_scope(rec)
        else:
            rec.pinned_for_good = True

    def pin(self, actor_ids: list, delta: int) -> None:
        """Keep actors alive (+1) while a task or value holds their handles, or let go (-1)."""
        for actor_id in actor_ids:
            rec = self.actors.get(actor_id)
            if rec is not None:
                rec.pins += delta
                if delta < 0:
                    self._check_scope(rec)

    def _check_scope(self, rec: ActorRecord) -> None:
        if rec.holders or rec.pins > 0 or rec.pinned_for_good or rec.spec.detached or rec.state.state == DEAD:
            return
        if rec.state.idle() and rec.state.state != PENDING:
            self._die(rec, "all handles to it went out of scope", graceful=True)
        elif rec.state.state == PENDING and not rec.calls:
            self._die(rec, "all handles to it went out of scope", graceful=True)
        else:
            rec.state.terminate_when_idle = True

    def process_gone(self, process: int) -> None:
        """A worker process ended: it holds no handles any more, and actors it created
        (not detached) die with it, as in Ray."""
        for rec in list(self.actors.values()):
            if rec.state.state == DEAD:
                continue
            if rec.owner == process and not rec.spec.detached:
                self._die(rec, "the worker process that created it exited")
            elif process in rec.holders:
                rec.holders.discard(process)
                self._check_scope(rec)
