"""Remote function tasks on the node, from submission to stored result.

Read top to bottom, this is a task's life: ``accept`` (pin what it uses, wait
for its ObjectRef arguments) -> ``_enqueue`` (the scheduler's queue) ->
``start_granted`` (resources granted: take a worker) -> ``dispatch`` (EXEC) ->
``on_done`` (DONE: store the result, or retry) | ``on_worker_lost`` (crash:
retry or fail) | ``cancel``. Which way a task goes is decided by its pure
``TaskState`` (task_state.py); this class carries the decisions out. Sending a
short task's successor ahead to its worker is node_pipeline.py's.
Loop thread only.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from greenroom import exceptions
from greenroom.runtime import serialization, wire
from greenroom.runtime.node_clients import task_owner
from greenroom.runtime.node_gpus import GpuMemory
from greenroom.runtime.node_loop import NodeLoop
from greenroom.runtime.node_objects import ObjectLifetimes
from greenroom.runtime.node_pipeline import Pipeline
from greenroom.runtime.task_spec import TaskSpec
from greenroom.runtime.task_state import (
    ENQUEUE, FAIL_BROKEN, FAIL_CRASHED, FINISH_CANCELLED, INTERRUPT, KILL, RECALL, RELEASE,
    RELEASE_AND_FINISH_CANCELLED, RETRY, TaskState,
)  # fmt: skip
from greenroom.runtime.worker_pool import WorkerPool, WorkerProc, describe_exit, with_env_vars
from greenroom.scheduler.errors import Unschedulable
from greenroom.scheduler.queue import Grant, Scheduler

CRASH_EXIT_WAIT_S = 2.0  # how long to wait for a dead worker's exit code, to explain it


@dataclass(slots=True, eq=False)
class TaskRecord:
    spec: TaskSpec
    state: TaskState
    worker: WorkerProc | None = None  # the worker it runs on (or follows on)
    assigned: list = field(default_factory=list)  # [resources, gpu ids] it was granted
    created_at: float = 0.0  # loop times, for the state API (node_state.py)
    started_at: float = 0.0
    pid: int | None = None  # of the worker it was last sent to
    job: Any = None  # the job it runs for (node_jobs.Jobs)


class Tasks:
    """Owns the node's unfinished tasks and the functions they call."""

    def __init__(self, loop: NodeLoop, scheduler: Scheduler, lifetimes: ObjectLifetimes, pool: WorkerPool,
                 *, pin_actors: Callable[[list, int], None], placement_info: Callable[[Any], Any],
                 assigned: Callable[[Any], list], drop_get: Callable[[bytes], None],
                 broken: Callable[[], str | None], schedule: Callable[[], None], timeline: Any, enforce: int,
                 gpus: GpuMemory, stream_raised: Callable[[bytes, list], tuple[int, list]],
                 history: Any) -> None:  # fmt: skip
        self.loop = loop
        self.history = history  # finished tasks, for the state API (node_state.TaskHistory)
        self.scheduler = scheduler
        self.lifetimes = lifetimes
        self.objects = lifetimes.objects
        self.pool = pool
        self.pin_actors = pin_actors
        self.placement_info = placement_info
        self.assigned = assigned  # allocation -> [resources, gpu ids as workers see them]
        self.drop_get = drop_get
        self.broken = broken
        self.schedule = schedule
        self.timeline = timeline
        self.enforce = enforce  # the node's enforcement mask (limits.py), ANDed with each task's
        self.gpus = gpus  # GPU workers' environments; GPUs held until a worker's process is gone
        self.stream_raised = stream_raised  # a streaming task's error becomes its last item (node_streams.py)
        self.records: dict[bytes, TaskRecord] = {}
        self.jobs: Any = None  # node_jobs.Jobs: whose work a task is (set by the node)
        self.functions: dict[bytes, bytes] = {}  # function id -> pickled function
        self.pipeline = Pipeline(self.scheduler, self.records, send_exec=self.send_exec,
                                 finish_cancelled=self.finish_cancelled, schedule=schedule)  # fmt: skip

    def record(self, task_id: bytes) -> TaskRecord | None:
        return self.records.get(task_id)

    # -- submission -----------------------------------------------------------------------
    def accept(self, spec: TaskSpec) -> None:
        """A new task: keep what it uses alive, and queue it once its arguments are ready."""
        if spec.func_blob is not None:
            self.functions[spec.func_id] = spec.func_blob
        task = TaskRecord(spec, TaskState(spec.max_retries), created_at=self.loop.loop.time())
        task.job = self.jobs.of_task(spec.task_id)
        if spec.env_vars is not None or self.jobs.env_vars_seen:
            spec.env_vars = self.jobs.env_vars_for(spec.env_vars, task_owner(spec.task_id))
        self.records[spec.task_id] = task
        if spec.pins:
            self.pin_actors(spec.pins, +1)
        if spec.ref_pins:
            self.lifetimes.pin(spec.ref_pins, +1)
        waiting = 0
        if spec.deps:
            self.lifetimes.pin([oid for _pos, oid in spec.deps], +1)
            for _pos, oid in spec.deps:
                if self.objects.on_ready(oid, lambda _oid, _entry, t=task: self.loop.on_loop(self._dep_ready, t)):
                    waiting += 1
        if task.state.accept(waiting) == ENQUEUE:
            self._enqueue(task)

    def _dep_ready(self, task: TaskRecord) -> None:
        if task.state.dep_ready() == ENQUEUE:
            self._enqueue(task)
            self.schedule()

    def _enqueue(self, task: TaskRecord) -> None:
        spec = task.spec
        for _pos, oid in spec.deps:  # a failed argument fails the task, as in Ray
            entry = self.objects.get(oid)
            if entry.kind != wire.VALUE:
                task.state.finish()
                self._finish(task, entry.kind, [entry.payload] * spec.num_returns)
                return
        try:
            self.scheduler.submit(spec.task_id, spec.request, spec.placement, self.jobs.key(task.job))
        except Unschedulable as e:
            task.state.finish()
            self._fail(task, exceptions.TaskUnschedulableError(f"task {spec.name!r}: {e}"))

    # -- starting --------------------------------------------------------------------------
    def start_granted(self, grant: Grant) -> bool:
        """The scheduler granted ``grant.key``: start it on a worker. False if no task has that key."""
        task = self.records.get(grant.key)
        if task is None:
            return False
        if task.state.granted() == RELEASE:
            self.scheduler.release(grant.key)
            return True
        try:
            task.assigned = self.assigned(grant.allocation)
            enforce = task.spec.enforce & self.enforce
            key, env = self.gpus.worker_for(grant.allocation, task.assigned[1], enforce)
            worker = self.pool.acquire(*with_env_vars(key, env, task.spec.env_vars))
        except Exception as e:  # one grant that can't start must not strand the others
            self.scheduler.release(grant.key)
            task.state.start_failed()
            self._fail(task, exceptions.RaySystemError(
                f"task {task.spec.name!r} could not be started: {type(e).__name__}: {e}"
            ))  # fmt: skip
            return True
        worker.task = task
        task.worker = worker
        if worker.ready:
            self.dispatch(worker, task)
        return True

    def dispatch(self, w: WorkerProc, task: TaskRecord) -> None:
        """Send ``task`` to its ready worker (and, if it is short, its follower along)."""
        task.state.dispatched()
        task.started_at = w.started_at = self.loop.loop.time()
        self.send_exec(w, task)
        self.pipeline.lead(w)

    def send_exec(self, w: WorkerProc, task: TaskRecord) -> None:
        spec = task.spec
        task.pid = w.pid
        blob = None
        if spec.func_id not in w.functions:
            blob = self.functions[spec.func_id]
            w.functions.add(spec.func_id)
        deps = [[pos, wire.VALUE, self.objects.get(oid).payload] for pos, oid in spec.deps] if spec.deps else []
        placement = spec.placement and self.placement_info(spec.placement)
        job = None if task.job is w.job else task.job  # sent when it changes (a Recall forgets it)
        w.job = task.job
        w.send(wire.Exec(spec.task_id, spec.func_id, blob, spec.args_blob, deps, spec.num_returns, spec.name,
                         task.assigned, placement, spec.capture, spec.enforce & self.enforce,
                         spec.generator, job))  # fmt: skip

    # -- ending -----------------------------------------------------------------------------
    def on_done(self, w: WorkerProc, done: wire.Done) -> None:
        task = w.task
        w.task = None
        if task is None or task.spec.task_id != done.task_id:
            return
        spec = task.spec
        self.drop_get(done.task_id)
        now = self.loop.loop.time()
        self.timeline.record("task", spec.name, w.pid, w.started_at, now, task.assigned[1])
        self.pipeline.note_run_time(w, spec.func_id, now)
        calls = w.calls[spec.func_id] = w.calls.get(spec.func_id, 0) + 1
        retiring = w.next is None and spec.max_calls and calls >= spec.max_calls
        # A retiring GPU worker's GPUs are granted again once its process is gone (node_gpus.py).
        gpu_wait = retiring and self.gpus.holds(task.assigned[1], spec.enforce & self.enforce)
        follower = self.pipeline.hand_over(w, done.task_id, now, release=not gpu_wait)
        task.worker = None
        kind, payloads = done.kind, done.payloads
        if kind == wire.TASK_ERROR or type(kind) is list:  # a list: values, then the error it raised
            decision = task.state.finished(True, lambda: self._retryable(spec, payloads[-1]))
        else:
            decision = task.state.finished(False, None)
        if follower is not None:
            self.pipeline.lead(w)
        elif retiring:
            self.pool.retire(w)
        else:
            self.pool.release(w)
            if task.assigned[1]:
                self.gpus.after_task(w, f"task {spec.name!r}")
        if gpu_wait:  # a retry is queued once its old grant is free
            then = (lambda: task.state.cancelled or self._enqueue(task)) if decision == RETRY else None
            self.gpus.release_after_exit(w, spec.task_id, f"task {spec.name!r}", then)
        if decision == FINISH_CANCELLED:
            self.finish_cancelled(task)
        elif decision == RETRY:
            if not gpu_wait:
                self._enqueue(task)
        else:
            if len(payloads) != spec.num_returns:
                payloads = payloads * spec.num_returns
            if kind == wire.TASK_ERROR and spec.generator is not None:
                kind, payloads = self.stream_raised(spec.task_id, payloads)
            self._finish(task, kind, payloads, done.contains)
        self.schedule()

    @staticmethod
    def _retryable(spec: TaskSpec, payload: bytes) -> bool:
        retry = spec.retry_exceptions
        if retry is True or not retry:
            return bool(retry)
        try:
            err = serialization.loads(payload)
        except Exception:
            return False
        return isinstance(err.cause, tuple(retry))

    def _finish(self, task: TaskRecord, kind: int, payloads: list, contains: list | None = None) -> None:
        spec = task.spec
        self.records.pop(spec.task_id, None)
        self.history.task_ended(task, kind, payloads)
        self.lifetimes.complete_returns(spec.task_id, spec.num_returns, kind, payloads, contains)
        if spec.pins:
            self.pin_actors(spec.pins, -1)
        if spec.deps:
            self.lifetimes.pin([oid for _pos, oid in spec.deps], -1)
        if spec.ref_pins:
            self.lifetimes.pin(spec.ref_pins, -1)

    def finish_cancelled(self, task: TaskRecord) -> None:
        error = exceptions.TaskCancelledError(f"task {task.spec.name!r} was cancelled")
        self._fail(task, error)

    def _fail(self, task: TaskRecord, error: BaseException) -> None:
        self._finish(task, wire.SYSTEM_ERROR, [serialization.dumps(error)] * task.spec.num_returns)

    def fail_queued(self, key: bytes, why: str) -> None:
        """A queued task can never run now (its placement group was removed)."""
        task = self.records.get(key)
        if task is not None:
            task.state.finish()
            self._fail(task, exceptions.TaskUnschedulableError(f"task {task.spec.name!r} {why}"))

    # -- worker deaths ----------------------------------------------------------------------
    def on_worker_lost(self, w: WorkerProc) -> None:
        self.pipeline.follower_lost(w)
        task = w.task
        w.task = None
        if task is None:
            return
        self.drop_get(task.spec.task_id)
        gpu_wait = self.gpus.holds(task.assigned[1], task.spec.enforce & self.enforce)
        if not gpu_wait:
            self.scheduler.release(task.spec.task_id)
        task.worker = None
        self.loop.own(self._after_crash(w, task, gpu_wait))

    async def _after_crash(self, w: WorkerProc, task: TaskRecord, gpu_wait: bool) -> None:
        spec = task.spec
        if gpu_wait:  # its GPUs are granted again once its process is gone (node_gpus.py)
            await self.gpus.wait_gone(w, f"task {spec.name!r}")
            self.scheduler.release(spec.task_id)
        try:
            code = await asyncio.wait_for(asyncio.shield(w.exit_code), CRASH_EXIT_WAIT_S)
        except asyncio.TimeoutError:
            code = None
        broken = self.broken()
        decision = task.state.crashed(bool(broken))
        if decision == FINISH_CANCELLED:
            self.finish_cancelled(task)
        elif decision == FAIL_BROKEN:
            self._fail(task, exceptions.RaySystemError(f"task {spec.name!r} lost its worker: {broken}"))
        elif decision == RETRY:
            self._enqueue(task)
        elif decision == FAIL_CRASHED:
            tried = f"{spec.max_retries + 1 if spec.max_retries >= 0 else 'many'} time(s)"
            if w.out_of_memory:  # the memory monitor killed it (node_memory.py)
                self._fail(task, exceptions.OutOfMemoryError(
                    f"task {spec.name!r} (pid={w.pid}) ran out of memory: {w.lost_reason}. It was tried "
                    f"{tried} (max_retries={spec.max_retries}). To fix it: {w.out_of_memory}."
                ))  # fmt: skip
            else:
                self._fail(task, exceptions.WorkerCrashedError(
                    f"the worker (pid={w.pid}) running task {spec.name!r} died: "
                    f"{w.lost_reason or describe_exit(code)}. It was tried {tried}; raise max_retries to "
                    "retry more."
                ))  # fmt: skip
        self.schedule()

    # -- cancel -----------------------------------------------------------------------------
    def cancel(self, object_id: bytes, force: bool) -> bool:
        """cancel() of the task behind ``object_id``; False if no unfinished task has that id."""
        task = self.records.get(object_id[:12])
        if task is None:
            return False
        decision = task.state.cancel(force)
        w = task.worker
        if decision == FINISH_CANCELLED:
            self.scheduler.cancel(task.spec.task_id)
            self.finish_cancelled(task)
        elif decision == RELEASE_AND_FINISH_CANCELLED:  # granted, its worker still forking
            self._unstart(w, task)
        elif decision == RECALL:
            w.recall(task.spec.task_id)
        elif w is not None and decision == KILL:
            w.kill()
        elif w is not None and decision == INTERRUPT:  # running, or its EXEC on the way
            w.recall(task.spec.task_id)
            w.interrupt()
        return True

    def on_recalled(self, w: WorkerProc, recalled: wire.Recalled) -> None:
        """The answer to a RECALL sent at cancel() (one sent when a leader blocked needs none)."""
        task = self.records.get(recalled.task_id)
        if task is None or not task.state.recalling:
            return
        if w.next is task:
            if recalled.removed:  # dropped while it waited behind its leader
                self.pipeline.give_back(w)
            else:
                task.state.recalled(False)
            return
        if task.state.recalled(recalled.removed) == RELEASE_AND_FINISH_CANCELLED and w.task is task:
            w.functions.discard(task.spec.func_id)  # its EXEC may have carried the function
            self._unstart(w, task)

    def _unstart(self, w: WorkerProc, task: TaskRecord) -> None:
        """A granted task that never started: give back its worker and resources (or hand them
        to the follower its worker starts instead); it ends cancelled."""
        w.task = None
        task.worker = None
        if self.pipeline.hand_over(w, task.spec.task_id, self.loop.loop.time()) is None:
            self.pool.release(w)
        self.finish_cancelled(task)
        self.schedule()
