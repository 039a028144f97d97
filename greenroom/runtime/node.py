"""The node: one event loop that owns the workers, the object table and the scheduler.

Threads: the node's loop runs in its own thread. Every method here runs on
that loop, except the ``*_threadsafe`` entry points and ``call`` used by the
driver's threads. Scheduling decisions come from the pure ``Scheduler``; this
module only carries them out (fork or reuse a worker, send EXEC, deliver DONE).

A task's life: submitted -> waiting for its ObjectRef arguments -> queued in
the scheduler -> granted (resources, GPU ids) -> running on a worker ->
done (results stored, resources released) | retried | failed.

Shutdown order (``stop``): refuse new work, fail every pending object,
close worker sockets and the zygote's control socket (the zygote kills and
reaps every worker, then exits), wait for the zygote, cancel owned asyncio
tasks, stop the loop.
"""

from __future__ import annotations

import asyncio
import collections
import concurrent.futures
import os
import signal
import sys
import threading
import traceback
from dataclasses import dataclass, field
from typing import Any

from greenroom import exceptions
from greenroom.runtime import object_store, serialization, wire
from greenroom.runtime.actor_host import ActorHost
from greenroom.runtime.node_gets import BlockingGets, PendingGet
from greenroom.runtime.node_objects import ObjectLifetimes
from greenroom.runtime.node_pipeline import Pipelining
from greenroom.runtime.node_placement import PlacementGroups
from greenroom.runtime.object_table import ObjectTable
from greenroom.runtime.task_spec import TaskSpec
from greenroom.runtime.worker_pool import WorkerPool, WorkerProc, describe_exit
from greenroom.scheduler.errors import Unschedulable
from greenroom.scheduler.queue import Scheduler
from greenroom.scheduler.resources import ResourceSet

CRASH_EXIT_WAIT_S = 2.0
LAZY_S = 0.05  # how long a lazily posted event may wait for the loop


@dataclass(slots=True, eq=False)
class TaskRecord:
    spec: TaskSpec
    retries_left: int
    deps_pending: int = 0
    worker: WorkerProc | None = None
    granted: bool = False
    cancelled: bool = False
    report_cancelled: bool = False  # cancelled after it had (unknowingly) started
    assigned: list = field(default_factory=list)


class Node(ObjectLifetimes, BlockingGets, PlacementGroups, Pipelining):
    """Owns the loop thread; see the module docstring."""

    def __init__(
        self, total: ResourceSet, *, log_to_driver: bool = True, gpu_names: list[str] | None = None,
        store_size: int = 1 << 30,
    ) -> None:  # fmt: skip
        self.scheduler = Scheduler(total)
        self.arena = object_store.Arena.create(store_size)
        self.allocator = object_store.Allocator(store_size)
        # Scheduler GPU index -> the id workers see (the driver's CUDA_VISIBLE_DEVICES, if set).
        self.gpu_names = gpu_names
        self.objects = ObjectTable()
        self.actors = ActorHost(self)
        self.namespace = "default"
        self._pg_names: dict[str, bytes] = {}
        self._pg_counter = 0
        self.tasks: dict[bytes, TaskRecord] = {}
        self.functions: dict[bytes, bytes] = {}
        self.placement_groups: dict[bytes, dict] = {}
        self.log_to_driver = log_to_driver
        self._inbox: collections.deque = collections.deque()
        self._inbox_scheduled = False
        self._schedule_pending = False
        self._owned: set[asyncio.Task] = set()
        self._blocked: dict[bytes, PendingGet] = {}  # task id -> its get() in progress
        self._actor_gets: list[PendingGet] = []  # actors' gets in progress (for deadlock checks)
        self._held_by: dict[int, set[bytes]] = {}  # worker id -> objects it holds refs to
        self._unclaimed: dict[int, set[int]] = {}  # worker id -> blocks allocated, not yet delivered
        self._run_time: dict[bytes, float] = {}  # function id -> average run time (pipelining)
        self._recalling: dict[bytes, str] = {}  # cancelled follower id -> "force" | "interrupt"
        self.sent_ahead = 0  # tasks sent to a busy worker ahead of time, ever
        self._assigned_cache: dict[Any, dict] = {}
        self.closed = False
        self.broken: str | None = None  # why the node can't start workers any more
        self.loop: asyncio.AbstractEventLoop | None = None
        self.thread: threading.Thread | None = None
        self.pool: WorkerPool | None = None

    # -- lifecycle (driver thread) ---------------------------------------------------
    def start(self) -> None:
        started: concurrent.futures.Future = concurrent.futures.Future()
        self.thread = threading.Thread(target=self._run, args=(started,), name="greenroom-node", daemon=True)
        self.thread.start()
        started.result()

    def _run(self, started: concurrent.futures.Future) -> None:
        try:
            import uvloop

            loop = uvloop.new_event_loop()
        except ImportError:  # pragma: no cover - uvloop is a dependency
            loop = asyncio.new_event_loop()
        self.loop = loop
        asyncio.set_event_loop(loop)
        try:
            self.pool = WorkerPool(
                loop, self._on_message, self._on_worker_ready, self._on_worker_lost, self.log_to_driver,
                on_zygote_lost=self._on_zygote_lost, arena=self.arena,
                on_handler_error=self._on_handler_error,
            )
            self.pool.start()
        except BaseException as e:
            started.set_exception(e)
            loop.close()
            return
        started.set_result(None)
        self._lazy_timer = loop.call_later(LAZY_S, self._lazy_tick)
        try:
            loop.run_forever()
        finally:
            loop.close()

    def stop(self) -> None:
        if self.loop is None or self.closed:
            self.arena.close()
            return
        self.closed = True
        if self.loop.is_running():
            fut = asyncio.run_coroutine_threadsafe(self._stop(), self.loop)
            try:
                fut.result(timeout=15)
            finally:
                self.loop.call_soon_threadsafe(self.loop.stop)
                self.thread.join(timeout=15)
        self.arena.close()

    async def _stop(self) -> None:
        lost = serialization.dumps(exceptions.ObjectLostError("the greenroom node shut down before this object was ready"))
        for oid, entry in list(self.objects.entries.items()):
            if entry.kind is None:
                self.objects.complete(oid, wire.SYSTEM_ERROR, lost)
        self._lazy_timer.cancel()
        self.pool.close()
        for t in list(self._owned):
            t.cancel()
        if self._owned:
            await asyncio.gather(*self._owned, return_exceptions=True)

    def _on_zygote_lost(self, reason: str) -> None:
        """No new worker can start: fail everything waiting instead of hanging."""
        self.broken = reason
        error = serialization.dumps(exceptions.RaySystemError(
            f"{reason}; no worker can start. Call greenroom.shutdown() and greenroom.init() again."
        ))  # fmt: skip
        for oid, entry in list(self.objects.entries.items()):
            if entry.kind is None:
                self.objects.complete(oid, wire.SYSTEM_ERROR, error)

    def _on_handler_error(self, w: WorkerProc, msg: list, error: Exception) -> None:
        """greenroom failed handling a worker's message: report it loudly, and fail the
        call it answered rather than leave its caller waiting forever."""
        text = "".join(traceback.format_exception(type(error), error, error.__traceback__))
        print(f"greenroom: internal error handling a message from worker pid={w.pid}:\n{text}", file=sys.stderr)
        if msg and msg[0] == wire.DONE:
            error = serialization.dumps(exceptions.RaySystemError(f"greenroom failed to store this result:\n{text}"))
            for i in range(max(len(msg[3]), 1)):
                oid = msg[1] + i.to_bytes(4, "little")
                entry = self.objects.get(oid)
                if entry is not None and entry.kind is None:
                    self.objects.complete(oid, wire.SYSTEM_ERROR, error)

    def check_usable(self) -> None:
        if self.closed:
            raise exceptions.RaySystemError("greenroom has been shut down; call greenroom.init() again")
        if self.broken:
            raise exceptions.RaySystemError(
                f"{self.broken}; call greenroom.shutdown() and greenroom.init() again"
            )

    def call(self, method: str, *args: Any) -> Any:
        """Run ``api_<method>(*args)`` on the loop and return its result (driver threads)."""
        self.check_usable()
        fut: concurrent.futures.Future = concurrent.futures.Future()

        def run() -> None:
            try:
                if self._inbox:  # what this thread posted before the call comes first
                    self._drain_inbox()
                fut.set_result(getattr(self, "api_" + method)(*args))
            except BaseException as e:
                fut.set_exception(e)

        self.loop.call_soon_threadsafe(run)
        return fut.result()

    def _own(self, coro: Any) -> None:
        task = self.loop.create_task(coro)
        self._owned.add(task)
        task.add_done_callback(self._owned.discard)

    # -- submission ------------------------------------------------------------------
    def submit_threadsafe(self, spec: TaskSpec) -> None:
        """Queue a task from any thread; one wakeup serves a burst of submissions."""
        self.post(self._accept, spec)

    def post(self, fn: Any, *args: Any) -> None:
        """Run ``fn(*args)`` on the loop, after everything posted before it (any thread)."""
        self._inbox.append((fn, args))
        if not self._inbox_scheduled:
            self._inbox_scheduled = True
            self.loop.call_soon_threadsafe(self._drain_inbox)

    def post_lazy(self, fn: Any, *args: Any) -> None:
        """Like ``post`` but without waking the loop: applied with the next drain, at the
        latest after LAZY_S (reference drops: a wakeup per dropped ref costs a round trip)."""
        self._inbox.append((fn, args))

    def _lazy_tick(self) -> None:
        if self._inbox and not self._inbox_scheduled:
            self._drain_inbox()
        self._lazy_timer = self.loop.call_later(LAZY_S, self._lazy_tick)

    def on_loop(self, fn: Any, *args: Any) -> None:
        """Run ``fn(*args)`` now if on the loop thread, else soon on it."""
        if threading.current_thread() is self.thread:
            fn(*args)
        else:
            self.loop.call_soon_threadsafe(fn, *args)

    def _drain_inbox(self) -> None:
        self._inbox_scheduled = False
        inbox = self._inbox
        while inbox:
            fn, args = inbox.popleft()
            fn(*args)
        if self._needs_schedule():
            self._run_schedule()  # now, not on the next loop turn: a new task starts sooner

    def check_feasible(self, spec_request: ResourceSet, placement: tuple | None) -> str | None:
        return self.scheduler.infeasible_reason(spec_request, placement)

    def _accept(self, spec: TaskSpec) -> None:
        if spec.func_blob is not None:
            self.functions[spec.func_id] = spec.func_blob
        retries = spec.max_retries if spec.max_retries >= 0 else float("inf")
        task = TaskRecord(spec, retries)
        self.tasks[spec.task_id] = task
        if spec.pins:
            self.actors._pin(spec.pins, +1)
        self.pin_objects([oid for _pos, oid in spec.deps], +1)
        self.pin_objects(spec.ref_pins, +1)
        for dep in spec.deps:
            if self.objects.on_ready(dep[1], lambda oid, e, t=task: self._dep_ready(t)):
                task.deps_pending += 1
        if task.deps_pending == 0:
            self._enqueue(task)

    def _dep_ready(self, task: TaskRecord) -> None:
        # May run on a driver thread (a put() completing a dependency): hop to the loop.
        if threading.current_thread() is not self.thread:
            self.loop.call_soon_threadsafe(self._dep_ready, task)
            return
        task.deps_pending -= 1
        if task.deps_pending == 0:
            self._enqueue(task)
            self._schedule()

    def _enqueue(self, task: TaskRecord) -> None:
        if task.cancelled:
            return
        spec = task.spec
        for _pos, oid in spec.deps:  # a failed argument fails the task, as in Ray
            entry = self.objects.get(oid)
            if entry.kind != wire.VALUE:
                self._finish(task, entry.kind, [entry.payload] * spec.num_returns)
                return
        try:
            self.scheduler.submit(spec.task_id, spec.request, spec.placement)
        except Unschedulable as e:
            self._fail(task, exceptions.TaskUnschedulableError(f"task {spec.name!r}: {e}"))

    def _needs_schedule(self) -> bool:
        return self.scheduler.has_waiting() or bool(self._blocked) or bool(self._actor_gets)

    def _schedule(self) -> None:
        if not self._schedule_pending and self._needs_schedule():
            self._schedule_pending = True
            self.loop.call_soon(self._run_schedule)

    def _run_schedule(self) -> None:
        self._schedule_pending = False
        if self.broken:  # nothing can start; _on_zygote_lost failed what was waiting
            return
        decisions = self.scheduler.schedule()
        for pg_id in decisions.placement_groups_ready:
            pg = self.placement_groups.get(pg_id)
            if pg is not None:
                self.objects.complete(pg["ready"], wire.VALUE, serialization.dumps(True))
        for grant in decisions.grants:
            try:
                self._start_granted(grant)
            except Exception as e:  # one grant that can't start must not strand the others
                task = self.tasks.get(grant.key)
                if task is not None and task.worker is None:
                    self.scheduler.release(grant.key)
                    task.granted = False
                    self._fail(task, exceptions.RaySystemError(
                        f"task {task.spec.name!r} could not be started: {type(e).__name__}: {e}"
                    ))  # fmt: skip
        if self._blocked or self._actor_gets:
            self._check_deadlock()

    def _start_granted(self, grant: Any) -> None:
        task = self.tasks.get(grant.key)
        if task is None and self.actors.granted(grant.key, grant.allocation):
            return
        if task is None or task.cancelled:
            self.scheduler.release(grant.key)
            return
        alloc = grant.allocation
        task.assigned = self._assigned(alloc)
        worker = self.pool.acquire(",".join(map(str, task.assigned[1])))
        task.granted = True
        worker.task = task
        task.worker = worker
        if worker.transport is not None:
            self._dispatch(worker, task)

    def _assigned(self, alloc: Any) -> list:
        cached = self._assigned_cache.get(alloc)
        if cached is None:
            resources = alloc.resources.to_dict()
            if alloc.gpus:
                resources["GPU"] = sum(units for _, units in alloc.gpus) / 10_000
            ids: list = alloc.gpu_ids
            if self.gpu_names is not None:
                names = [self.gpu_names[i] if i < len(self.gpu_names) else str(i) for i in ids]
                ids = [int(n) if n.isdigit() else n for n in names]
            cached = self._assigned_cache[alloc] = [resources, ids]
        return cached

    def _send_exec(self, w: WorkerProc, task: TaskRecord) -> None:
        spec = task.spec
        blob = None
        if spec.func_id not in w.functions:
            blob = self.functions[spec.func_id]
            w.functions.add(spec.func_id)
        deps = []
        for pos, oid in spec.deps:
            deps.append([pos, wire.VALUE, self.objects.get(oid).payload])
        w.send([wire.EXEC, spec.task_id, spec.func_id, blob, spec.args_blob, deps,
                spec.num_returns, spec.name, task.assigned,
                spec.placement and self.placement_info(spec.placement)])  # fmt: skip

    # -- workers ---------------------------------------------------------------------
    def _on_worker_ready(self, w: WorkerProc) -> None:
        if w.actor is not None:
            self.actors.worker_ready(w)
        elif w.task is not None:
            self._dispatch(w, w.task)

    def _on_message(self, w: WorkerProc, msg: list) -> None:
        kind = msg[0]
        if kind == wire.DONE:
            self._claim(w.id, msg[3])
            if msg[5]:  # it printed: forward that before its result arrives
                w.drain_output()
            if w.actor is not None:
                self.actors.on_done(w, msg[1], msg[2], msg[3], msg[4])
            else:
                self._on_done(w, msg[1], msg[2], msg[3], msg[4])
            for ref_kind, key, delta in msg[6]:  # refs the call dropped: after its result's pins
                self.reference_event(w.id, ref_kind, key, delta)
        elif kind == wire.REQUEST:
            self._on_request(w, msg[1], msg[2], msg[3])
        elif kind == wire.HANDLES:
            for ref_kind, key, delta in msg[1]:
                self.reference_event(w.id, ref_kind, key, delta)
        elif kind == wire.RECALLED:
            self._on_recalled(w, msg[1], msg[2])
        elif kind == wire.ACTOR_EXIT:
            self.actors.on_exit_notice(w)
        elif kind == wire.HELLO:
            if msg[1] != wire.PROTOCOL_VERSION:
                w.kill()

    def _on_done(self, w: WorkerProc, task_id: bytes, kind: int, payloads: list, contains: list) -> None:
        task = w.task
        w.task = None
        if task is None or task.spec.task_id != task_id:
            return
        spec = task.spec
        self._drop_pending_get(task_id)
        now = self.loop.time()
        self._note_run_time(w, spec.func_id, now)
        follower = self._hand_over(w, task_id, now)
        task.worker = None
        task.granted = False
        calls = w.calls[spec.func_id] = w.calls.get(spec.func_id, 0) + 1
        if follower is not None:
            self._pipeline(w)
        elif spec.max_calls and calls >= spec.max_calls:
            self.pool.retire(w)
        else:
            self.pool.release(w)
        if task.report_cancelled or (kind == wire.TASK_ERROR and task.cancelled):
            kind, payloads = wire.SYSTEM_ERROR, [self._cancelled_payload(spec)] * spec.num_returns
        elif kind == wire.TASK_ERROR and task.retries_left > 0 and self._retryable(spec, payloads[0]):
            task.retries_left -= 1
            self._enqueue(task)
            self._schedule()
            return
        elif len(payloads) != spec.num_returns:
            payloads = payloads * spec.num_returns
        self._finish(task, kind, payloads, contains)
        self._schedule()

    def _retryable(self, spec: TaskSpec, payload: bytes) -> bool:
        retry = spec.retry_exceptions
        if retry is True:
            return True
        if not retry:
            return False
        try:
            err = serialization.loads(payload)
        except Exception:
            return False
        return isinstance(err.cause, tuple(retry))

    def _finish(self, task: TaskRecord, kind: int, payloads: list, contains: list | None = None) -> None:
        spec = task.spec
        self.tasks.pop(spec.task_id, None)
        self._complete_returns(spec.task_id, spec.num_returns, kind, payloads, contains)
        if spec.pins:
            self.actors._pin(spec.pins, -1)
        self.pin_objects([oid for _pos, oid in spec.deps], -1)
        self.pin_objects(spec.ref_pins, -1)

    def _finish_cancelled(self, task: TaskRecord) -> None:
        self._finish(task, wire.SYSTEM_ERROR, [self._cancelled_payload(task.spec)] * task.spec.num_returns)

    def _fail(self, task: TaskRecord, error: BaseException) -> None:
        payload = serialization.dumps(error)
        self._finish(task, wire.SYSTEM_ERROR, [payload] * task.spec.num_returns)

    @staticmethod
    def _cancelled_payload(spec: TaskSpec) -> bytes:
        return serialization.dumps(exceptions.TaskCancelledError(f"task {spec.name!r} was cancelled"))

    def _on_worker_lost(self, w: WorkerProc) -> None:
        self.pool.forget(w)
        for fd in list(w.out):
            w._read_output(fd)
        if self.closed:
            return
        self._follower_lost(w)
        if w.actor is not None:
            self.actors.on_lost(w)
        self.actors.process_gone(w.id)
        self._release_process(w.id)
        task = w.task
        w.task = None
        if task is not None:
            self._drop_pending_get(task.spec.task_id)
            self._recalling.pop(task.spec.task_id, None)
        if task is None or self.closed:
            return
        self.scheduler.release(task.spec.task_id)
        task.granted = False
        task.worker = None
        self._own(self._after_crash(w, task))

    async def _after_crash(self, w: WorkerProc, task: TaskRecord) -> None:
        try:
            code = await asyncio.wait_for(asyncio.shield(w.exit_code), CRASH_EXIT_WAIT_S)
        except asyncio.TimeoutError:
            code = None
        spec = task.spec
        if task.cancelled:
            self._finish_cancelled(task)
        elif self.broken:
            self._fail(task, exceptions.RaySystemError(f"task {spec.name!r} lost its worker: {self.broken}"))
        elif task.retries_left > 0:
            task.retries_left -= 1
            self._enqueue(task)
        else:
            self._fail(task, exceptions.WorkerCrashedError(
                f"the worker (pid={w.pid}) running task {spec.name!r} died: {describe_exit(code)}. "
                f"It was tried {spec.max_retries + 1 if spec.max_retries >= 0 else 'many'} time(s); "
                "raise max_retries to retry more."
            ))  # fmt: skip
        self._schedule()

    # -- requests from workers ---------------------------------------------------------
    def _on_request(self, w: WorkerProc, rid: int, op: str, args: Any) -> None:
        try:
            if op == wire.OP_GET:
                self._recall_follower(w)
                self._request_get(w, rid, args[0], len(args[0]), args[1], payloads=True)
            elif op == wire.OP_WAIT:
                self._recall_follower(w)
                self._request_get(w, rid, args[0], args[1], args[2], payloads=False)
            elif op == wire.OP_PUT:
                oid, payload, contains = args
                self._claim(w.id, [payload])
                self.objects.create([oid], "put", holder=w.id)
                self._hold(w.id, [oid])
                self.objects.complete(oid, wire.VALUE, payload)
                if contains:
                    self.set_contains([oid], contains)
            elif op == wire.OP_ACTOR_CALL:
                self.actors.submit_call(args[0], args[1], holder=w.id)
            elif op == wire.OP_SUBMIT:
                spec = TaskSpec.from_wire(args)
                reason = self.check_feasible(spec.request, spec.placement)
                if reason:
                    raise exceptions.TaskUnschedulableError(f"task {spec.name!r}: {reason}")
                ids = [spec.task_id + i.to_bytes(4, "little") for i in range(spec.num_returns)]
                self.objects.create(ids, spec.name, holder=w.id)
                self._hold(w.id, ids)
                self._accept(spec)
                self._schedule()
                w.send([wire.REPLY, rid, True, None])
            elif op == wire.OP_CALL:
                call_args = serialization.loads(args[1])
                if args[0] == "create_actor":
                    call_args = (*call_args[:1], w.id, *call_args[2:])  # the owner is this worker
                if args[0] == "allocate":
                    result = self._allocate_for(w.id, *call_args)
                else:
                    result = getattr(self, "api_" + args[0])(*call_args)
                w.send([wire.REPLY, rid, True, result])
        except Exception as e:
            w.send([wire.REPLY, rid, False, serialization.dumps(e)])

    # -- cancel ------------------------------------------------------------------------
    def api_cancel(self, oid: bytes, force: bool) -> None:
        task = self.tasks.get(oid[:12])
        if task is None:
            return
        task.cancelled = True
        if self.scheduler.cancel(task.spec.task_id) or (not task.granted and task.worker is None):
            self._finish_cancelled(task)
            return
        w = task.worker
        if not task.granted and w is not None and w.next is task:  # sent ahead, maybe not started
            self._cancel_follower(task, force)
            return
        if w is None or w.pid is None:
            return
        if force:
            w.kill()
        else:
            os.kill(w.pid, signal.SIGINT)

    # -- actors --------------------------------------------------------------------------
    def api_create_actor(self, wire_spec: list, owner: int, get_if_exists: bool) -> list:
        if wire_spec[12] is None:  # namespace: the job's
            wire_spec[12] = self.namespace
        return self.actors.create(wire_spec, owner, get_if_exists)

    def api_get_actor(self, name: str, namespace: str | None) -> list:
        return self.actors.get_actor(name, namespace or self.namespace)

    def api_kill_actor(self, actor_id: bytes, no_restart: bool) -> None:
        self.actors.kill(actor_id, no_restart)

    def api_sync(self) -> None:
        """Nothing: returning means everything posted before it was applied."""

    def api_allocate(self, nbytes: int) -> int:
        try:
            return self.allocator.allocate(nbytes)
        except object_store.StoreFullError as e:
            raise exceptions.ObjectStoreFullError(
                f"{e}. Drop refs to values you no longer need, or start greenroom with a larger "
                "store: init(object_store_memory=...)"
            ) from None

    def api_preload(self, modules: list[str]) -> None:
        """Have every worker started from now on begin with these greenroom modules imported."""
        self.pool.preload(modules)

    def api_namespace(self) -> str:
        return self.namespace

    # -- resources ---------------------------------------------------------------------
    def api_cluster_resources(self) -> dict:
        return self.scheduler.total.to_dict()

    def api_available_resources(self) -> dict:
        return {k: v for k, v in self.scheduler.available.to_dict().items() if v > 0}
