"""A worker process: reads EXEC messages from its socket and runs them, one at a time.

The worker is forked from the zygote with its ``CUDA_VISIBLE_DEVICES`` already
set; it never changes. Inside a task, the public API (``get``, ``remote``,
``put``, ...) routes to ``WorkerRuntime``, which asks the node over the same
socket and reads until its reply comes back.

Failure stages and what the caller sees at ``get()``:
    function or arguments fail to unpickle here   -> RaySystemError
    the function raises                            -> RayTaskError (+ the cause's type)
    the result fails to pickle                     -> RayTaskError(TypeError)
    sys.exit(), os._exit(), a signal               -> the process ends; WorkerCrashedError
"""

from __future__ import annotations

import contextlib
import inspect
import os
import signal
import socket
import sys
import threading
import traceback
from collections.abc import Iterator
from typing import Any

from greenroom import exceptions
from greenroom.runtime import serialization, state, wire
from greenroom.runtime.actor_worker import Actor, ActorExit
from greenroom.runtime.connection import Connection, NodeGone
from greenroom.runtime.context import TaskContext, set_task_context
from greenroom.runtime.handles import STREAM, collecting
from greenroom.runtime.object_ref import IdMinter, object_id
from greenroom.runtime.runtime_base import ClientRuntime, decode
from greenroom.runtime.worker_limits import WorkerLimits
from greenroom.runtime.worker_generators import run_generator, run_generator_async


class WorkerRuntime(ClientRuntime):
    """The API inside a worker: every call is a request to the node."""

    def __init__(self, conn: Connection, worker_id: int) -> None:
        super().__init__(IdMinter(worker_id))
        self.conn = conn
        self.cancelled: set[bytes] = set()  # calls running here that cancel() was called for
        self._gains: list = []  # reference events, sent before the next message
        self._losses: list = []  # ... and after it (see handles.py)
        # Reentrant: a ref's __del__ (run by a garbage collection that an allocation inside the
        # lock's own block triggers) takes it again on the same thread.
        self._events_lock = threading.RLock()
        self.limits: WorkerLimits | None = None  # this process's enforcement state

    def set_job(self, job: dict) -> None:
        """The job the work here runs for: a worker serves every job of its node, in turn."""
        self.namespace = job.get("namespace", "default")
        self.job_id = job.get("job_id", "01000000")
        self.node_id = job.get("node_id", "")

    def _request(self, op: str, args: Any) -> Any:
        self.flush_events_before()
        try:
            reply = self.conn.request(op, args)
        except (NodeGone, OSError) as e:
            raise exceptions.RaySystemError("the greenroom node went away during a request") from e
        self.flush_events_after()
        if not reply.ok:
            raise serialization.loads(reply.payload)
        return reply.payload

    def _send(self, msg: list) -> None:
        self.conn.send(msg)

    async def await_ref(self, ref: Any) -> Any:
        request_future = getattr(self.conn, "request_future", None)
        if request_future is None:  # one thread talks to the node: resolve in place
            return self.get([ref], None)[0]
        # An async actor: wait without blocking its event loop.
        import asyncio

        self.flush_events_before()
        reply = await asyncio.wrap_future(request_future(wire.OP_GET, wire.GetArgs([ref.id], None)))
        if not reply.ok:
            raise serialization.loads(reply.payload)
        kind, payload, name = reply.payload[0]
        return decode(kind, payload, name, self)

    async def wait_ready(self, oid: bytes) -> None:
        request_future = getattr(self.conn, "request_future", None)
        if request_future is None:
            self.wait_ids([oid], 1, None)
            return
        import asyncio

        self.flush_events_before()
        reply = await asyncio.wrap_future(request_future(wire.OP_WAIT, wire.WaitArgs([oid], 1, None)))
        if not reply.ok:
            raise serialization.loads(reply.payload)

    def stream_dropped(self, task_id: bytes, taken: int) -> None:
        with self._events_lock:  # sent with the next message, like a dropped ref
            self._losses.append([STREAM, task_id, taken])

    def note_cancel(self, task_id: bytes) -> None:
        """A CancelCall arrived for an actor call (see is_canceled)."""
        self.cancelled.add(task_id)

    def is_canceled(self, task_id: bytes) -> bool:
        poll = getattr(self.conn, "poll", None)
        if poll is not None:  # one thread reads the socket: look at what has arrived
            poll()
        return task_id in self.cancelled

    def _reference_event(self, kind: str, key: bytes, delta: int) -> None:
        # Sent with the next message, never from inside __del__ (which may run mid-send).
        with self._events_lock:
            (self._losses if delta < 0 else self._gains).append([kind, key, delta])

    def flush_events_before(self) -> None:
        if self._gains:
            with self._events_lock:
                events, self._gains = self._gains, []
            self.conn.send(wire.Handles(events))

    def flush_events_after(self) -> None:
        events = self.take_losses()
        if events:
            self.conn.send(wire.Handles(events))

    def take_losses(self) -> list:
        """The refs dropped since the last message, to send along with the next one."""
        if not self._losses:
            return []
        with self._events_lock:
            events, self._losses = self._losses, []
        return events


class Executor:
    """Runs calls: caches functions by id, loads arguments, reports results."""

    def __init__(self, conn: Connection, runtime: WorkerRuntime) -> None:
        self.conn: Any = conn
        self.runtime = runtime
        self.functions: dict[bytes, Any] = {}
        self.pid = os.getpid()
        self.current_task: bytes | None = None
        self.interrupted = False  # a SIGINT came while no task ran
        self.deferring = False  # inside no_interrupts(): a SIGINT now is raised after it
        self.deferred = False
        self.last_result: Any = None
        self.limits: WorkerLimits = runtime.limits

    def run(self, msg: wire.Exec) -> None:
        task_id = msg.task_id
        self.current_task = task_id
        if self.interrupted:  # a cancel's SIGINT came before this task started: was it for this one?
            self.interrupted = False
            if self.conn.next_task(msg, look=True) is None:  # its RECALL was there: it never starts
                self.current_task = None
                return
        if msg.job is not None:
            self.runtime.set_job(msg.job)
        self.limits.apply(msg.enforce, msg.assigned)
        set_task_context(TaskContext(task_id=task_id, assigned=msg.assigned, placement=msg.placement,
                                     name=msg.name, enforce=msg.enforce))  # fmt: skip
        if msg.capture and msg.placement:
            self.runtime.default_placement = (msg.placement[0], -1)
        try:
            kind, payloads, contains = self.load_and_call(
                task_id, lambda: self._function(msg.func_id, msg.func_blob), msg.args_blob, msg.deps,
                msg.num_returns, msg.name, generator=msg.generator,
            )
        finally:
            self.current_task = None
            self.runtime.default_placement = None
            set_task_context(None)
        self.send_done(task_id, kind, payloads, contains)

    def cancelled(self, name: str) -> tuple[int, list, list]:
        err = exceptions.TaskCancelledError(f"task {name!r} was cancelled")
        return wire.SYSTEM_ERROR, [serialization.dumps(err)], []

    def send_done(self, task_id: bytes, kind: int, payloads: Any, contains: list) -> None:
        """Report a call's outcome; reference gains go before it, losses with it."""
        self.runtime.cancelled.discard(task_id)
        printed = False
        for stream in (sys.stdout, sys.stderr):
            if getattr(stream, "written", True):  # a stream we don't track: assume output
                stream.flush()
                printed = True
                if hasattr(stream, "written"):
                    stream.written = False
        self.runtime.flush_events_before()
        # Refs the call dropped ride in the same message: the node applies them right
        # after storing the result, so a caller that has the result sees them applied.
        self.conn.send(wire.Done(task_id, kind, payloads, contains, printed, self.runtime.take_losses()))

    def _function(self, func_id: bytes, blob: bytes | None) -> Any:
        fn = self.functions.get(func_id)
        if fn is None:
            fn = self.functions[func_id] = serialization.loads(blob)
        return fn

    def _load(self, get_fn: Any, args_blob: bytes, deps: list, name: str) -> tuple:
        fn = get_fn()
        args, kwargs = serialization.loads(args_blob) if args_blob else ((), {})
        if deps:
            args = list(args)
            for position, kind, payload in deps:
                value = decode(kind, payload, name, self.runtime)
                if isinstance(position, str):
                    kwargs[position] = value
                else:
                    args[position] = value
        return fn, args, kwargs

    def _load_failed(self, name: str, e: Exception) -> tuple[int, list, list]:
        err = exceptions.RaySystemError(
            f"task {name!r} (pid={self.pid}) could not unpickle its function or arguments "
            f"in the worker: {type(e).__name__}: {e}. Make sure the classes they use are "
            "importable in workers (defined in a module on sys.path, or in __main__)."
        )
        return wire.SYSTEM_ERROR, [serialization.dumps(err)], []

    def load_and_call(self, task_id, get_fn, args_blob, deps, num_returns, name, construct=False, generator=None):
        """Run one call; returns (payload kind, payloads, ids of refs pickled in them).
        ``generator``: [mode, backpressure] of a generator call (worker_generators.py).
        SystemExit and ActorExit pass through."""
        try:
            fn, args, kwargs = self._load(get_fn, args_blob, deps, name)
        except Exception as e:
            return self._load_failed(name, e)
        try:
            result = fn(*args, **kwargs)
            if not construct and inspect.iscoroutine(result):
                import asyncio

                result = asyncio.run(result)
        except (SystemExit, ActorExit):
            raise
        except BaseException:
            return self._task_error(name, *sys.exc_info())
        if generator is not None:
            return run_generator(self, task_id, result, generator, name)
        if construct:
            self.last_result = result
            return wire.VALUE, None, []
        return self._results(result, num_returns, name)

    async def load_and_call_async(self, task_id, get_fn, args_blob, deps, num_returns, name, generator=None):
        try:
            fn, args, kwargs = self._load(get_fn, args_blob, deps, name)
        except Exception as e:
            return self._load_failed(name, e)
        try:
            result = fn(*args, **kwargs)
            if inspect.isawaitable(result):
                result = await result
        except (SystemExit, ActorExit):
            raise
        except BaseException:
            return self._task_error(name, *sys.exc_info())
        if generator is not None:
            return await run_generator_async(self, task_id, result, generator, name)
        return self._results(result, num_returns, name)

    def _results(self, result: Any, num_returns: int, name: str) -> tuple[int, list, list]:
        if num_returns == 1 and serialization.is_plain(result):
            return wire.VALUE, [serialization.dumps_plain(result)], []
        raised = None
        if num_returns == 1:
            values = [result]
        else:
            values, raised = _consume(result)
            if raised is not None and not (inspect.isgenerator(result) and 0 < len(values) < num_returns):
                return self._task_error(name, *raised)
            if values is None or (raised is None and len(values) != num_returns):
                err = ValueError(
                    f"task {name!r} has num_returns={num_returns} but returned {type(result).__name__} "
                    f"{result!r:.200}; return a sequence of exactly {num_returns} values"
                )
                return self._task_error(name, ValueError, err, None)
        try:
            with collecting() as pickled:
                payloads = [
                    self.runtime.store_payload(v, self.current_object_id(i)) for i, v in enumerate(values)
                ]
        except exceptions.ObjectStoreFullError as e:
            return self._task_error(name, type(e), e, None)
        except Exception as e:  # the pickling error itself reaches the caller, explained
            explain(e, f"task {name!r} returned a value that cannot be pickled; return something picklable")
            return self._task_error(name, type(e), e, None)
        self.runtime.pin_handles(pickled.actors)
        if raised is not None:  # a generator raised part-way: as in Ray, its values so far stay
            _, [error], _ = self._task_error(name, *raised)
            rest = num_returns - len(values)
            return [wire.VALUE] * len(values) + [wire.TASK_ERROR] * rest, payloads + [error] * rest, pickled.objects
        return wire.VALUE, payloads, pickled.objects

    def current_object_id(self, index: int) -> bytes:
        from greenroom.runtime.context import task_context

        ctx = task_context()
        return object_id(ctx.task_id if ctx is not None else b"\0" * 12, index)

    def _task_error(self, name, etype, error, tb) -> tuple[int, list, list]:
        frames = traceback.format_exception(etype, error, tb.tb_next if tb is not None else None)
        text = "".join(frames)
        cause, type_name = error, etype.__name__
        if isinstance(error, exceptions.RayTaskError):  # a task it waited on failed: keep the innermost
            cause, type_name = error.cause, error.cause_type_name
            text = f"{text}\nwhile waiting on task {error.function_name!r}, which raised:\n{error.traceback_str}"
        err = exceptions.RayTaskError(name, text, None, self.pid, type_name)
        try:
            # Pickled apart, so that a caller that can't rebuild its class still gets the rest.
            err.cause_blob = serialization.dumps(cause)
            err.cause = cause
        except Exception:
            pass
        return wire.TASK_ERROR, [serialization.dumps(err)], []

    @contextlib.contextmanager
    def no_interrupts(self) -> Iterator[None]:
        """A cancel's SIGINT waits until this block ends (a message is never torn half-way). Only
        a task's worker gets SIGINT, in its one thread, so the flags need no lock."""
        self.deferring = True
        try:
            yield
        finally:
            self.deferring = False
            if self.deferred:
                self.deferred = False
                raise KeyboardInterrupt

    def on_sigint(self, signum, frame) -> None:
        # cancel(force=False): the node sends a RECALL, then SIGINT. In a task: interrupt it.
        # Between tasks it may be meant for the task about to start (see run()), or be stale.
        if self.deferring:
            self.deferred = True
            return
        if self.current_task is not None:
            raise KeyboardInterrupt
        self.interrupted = True


def _consume(result: Any) -> tuple[list | None, tuple | None]:
    """The values of a call's iterable result with num_returns > 1, and what it raised part-way
    (exc_info), if it did; (None, None) for a result that is not iterable."""
    try:
        iterator = iter(result)
    except TypeError:
        return None, None
    values: list = []
    try:
        for value in iterator:
            values.append(value)  # noqa: PERF402 -- one by one: what came before an error is kept
    except Exception:  # noqa: BLE001 -- whatever it raised is the task's error
        return values, sys.exc_info()
    return values, None


def explain(error: BaseException, text: str) -> None:
    """Attach greenroom's explanation to an error that reaches the user as it is."""
    if hasattr(error, "add_note"):  # Python 3.11+
        error.add_note(text)


def main(sock: socket.socket, worker_id: int, arena: Any = None, job: dict | None = None,
         pools_loaded: bool = True) -> int:  # fmt: skip
    """The worker's life: handshake, then run tasks until EXIT or EOF. ``pools_loaded``: the
    zygote had loaded a library with a native thread pool (see worker_limits.py)."""
    sock.setblocking(True)
    conn = Connection(sock)
    conn.send(wire.Hello(wire.PROTOCOL_VERSION, worker_id, os.getpid()))
    runtime = WorkerRuntime(conn, worker_id)
    conn.on_cancel = runtime.note_cancel
    runtime.arena = arena
    runtime.limits = WorkerLimits(pools_loaded)
    runtime.set_job(job or {})
    state.set_runtime(runtime)
    executor = Executor(conn, runtime)
    signal.signal(signal.SIGINT, executor.on_sigint)
    try:
        while True:
            msg = conn.recv()
            kind = type(msg)
            if kind is wire.Exec:
                msg = conn.next_task(msg)
                if msg is not None:
                    executor.run(msg)
            elif kind is wire.Recall:
                conn.recall(msg.task_id)
            elif kind is wire.ActorInit:
                return Actor(executor, msg).serve(conn)
            elif kind is wire.Exit:
                return 0
            # else a late Reply to a request that timed out
    except NodeGone:
        return 0
    except SystemExit as e:
        code = e.code
        return code if isinstance(code, int) else (0 if code is None else 1)
