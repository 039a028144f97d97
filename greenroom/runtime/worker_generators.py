"""Running a generator call in a worker: every yielded value goes to the node as it comes.

``num_returns="streaming"``: each value is stored at once (a YIELDED message, before the
call's DONE), so the caller's ``ObjectRefGenerator`` sees it while the call still runs.
With ``_generator_backpressure_num_objects=N``, after sending an item the worker checks
how far ahead of the caller it is; at N items ahead it asks the node (OP_BACKPRESSURE)
and waits for the answer before asking the generator for the next value. An error the
generator raises reaches the node as the call's TASK_ERROR (so ``retry_exceptions`` can
retry it); the node stores it as the stream's last item.

``num_returns="dynamic"``: the same messages, but the worker holds a ref to each item, and
the call's one result is a ``DynamicObjectRefGenerator`` of them; an error becomes one more
item (Ray's rule), and the call itself succeeds.

Stopping: ``cancel()`` of a task interrupts it (SIGINT: KeyboardInterrupt in the
generator); of an actor call, the call sees ``is_canceled()`` after its next item (a sync
actor) or is cancelled like any asyncio task (an async actor). Sending a message or waiting
on backpressure is never interrupted half-way (``Executor.no_interrupts``): a torn message
would break the socket for every later call. The node answers a waiting producer of a
cancelled call with TaskCancelledError.
"""

from __future__ import annotations

import asyncio
import inspect
import sys
from typing import Any

from greenroom.runtime import serialization, wire
from greenroom.runtime.actor_worker import ActorExit
from greenroom.runtime.context import task_context
from greenroom.runtime.generators import DynamicObjectRefGenerator
from greenroom.runtime.handles import collecting
from greenroom.runtime.object_ref import ObjectRef, object_id
from greenroom.runtime.options import DYNAMIC

_NONE = serialization.dumps(None)  # a streaming call's result: its values went one by one


class Cancelled(Exception):
    """The node said the call was cancelled while it waited on backpressure."""


class GeneratorRun:
    """One generator call in progress: sends its items, and waits on backpressure."""

    def __init__(self, executor: Any, task_id: bytes, generator: list, name: str) -> None:
        self.executor = executor
        self.runtime = executor.runtime
        self.task_id = task_id
        self.held = generator[0] == DYNAMIC
        self.allowed = generator[1] if generator[1] > 0 else -1  # the last item it may send before asking
        self.name = name
        self.index = 0
        self.refs: list[ObjectRef] = []  # num_returns="dynamic": its items, returned at the end
        ctx = task_context()
        self.actor = ctx is not None and ctx.actor_id is not None  # cancel() reaches it as is_canceled()

    def send(self, value: Any) -> None:
        """Store the next item (its pickling error is the generator's error)."""
        self.index += 1
        oid = object_id(self.task_id, self.index)
        with collecting() as pickled:
            payload = self.runtime.store_payload(value, oid)
        self.runtime.pin_handles(pickled.actors)
        self._yielded(wire.VALUE, payload, pickled.objects)

    def _yielded(self, kind: int, payload: Any, contains: list) -> None:
        runtime = self.runtime
        with self.executor.no_interrupts():
            runtime.flush_events_before()
            self.executor.conn.send(
                wire.Yielded(self.task_id, self.index, kind, payload, contains, self.held)
            )
            runtime.flush_events_after()
        if self.held:
            self.refs.append(ObjectRef._owned(object_id(self.task_id, self.index), runtime.refs))

    def should_stop(self) -> bool:
        """Whether cancel() was called for this actor call (tasks are interrupted instead)."""
        return self.actor and self.runtime.is_canceled(self.task_id)

    @property
    def must_wait(self) -> bool:
        return 0 < self.allowed <= self.index

    def allow(self, reply: wire.Reply) -> None:
        """The node's answer to OP_BACKPRESSURE: how far the generator may now run."""
        if not reply.ok:
            raise Cancelled()
        self.allowed = reply.payload

    def wait(self) -> None:
        with self.executor.no_interrupts():
            self.runtime.flush_events_before()
            reply = self.executor.conn.request(wire.OP_BACKPRESSURE, [self.task_id, self.index])
        self.allow(reply)

    async def wait_async(self) -> None:
        request_future = getattr(self.executor.conn, "request_future", None)
        if request_future is None:
            self.wait()
            return
        self.runtime.flush_events_before()
        self.allow(
            await asyncio.wrap_future(request_future(wire.OP_BACKPRESSURE, [self.task_id, self.index]))
        )

    # -- endings -------------------------------------------------------------------------
    def finished(self) -> tuple[int, list, list]:
        if not self.held:
            return wire.VALUE, [_NONE], []
        refs, self.refs = self.refs, []  # the worker lets go of them after its DONE (its losses)
        with collecting() as pickled:
            payload = serialization.dumps(DynamicObjectRefGenerator(refs))
        return wire.VALUE, [payload], pickled.objects

    def failed(self, error: tuple[int, list, list]) -> tuple[int, list, list]:
        """The generator raised: streaming reports the error as the call's; dynamic stores it
        as one more item and succeeds, as in Ray."""
        if not self.held:
            return error
        self.index += 1
        self._yielded(error[0], error[1][0], [])
        return self.finished()


def not_a_generator(executor: Any, result: Any, generator: list, name: str) -> tuple[int, list, list]:
    err = TypeError(
        f"task {name!r} was called with num_returns={generator[0]!r} but returned {type(result).__name__} "
        f"{result!r:.100}, not a generator; make it a generator function (use yield), or call it with "
        "an integer num_returns"
    )
    return executor._task_error(name, TypeError, err, None)


def run_generator(
    executor: Any, task_id: bytes, result: Any, generator: list, name: str
) -> tuple[int, list, list]:
    """Iterate a generator call's result, sending each item; (kind, payloads, contains) for its DONE."""
    if inspect.isasyncgen(result):
        return asyncio.run(run_generator_async(executor, task_id, result, generator, name))
    if not inspect.isgenerator(result):
        return not_a_generator(executor, result, generator, name)
    run = GeneratorRun(executor, task_id, generator, name)
    try:
        for value in result:
            run.send(value)
            if run.should_stop():
                result.close()
                return executor.cancelled(name)
            if run.must_wait:
                run.wait()
    except Cancelled:
        result.close()
        return executor.cancelled(name)
    except (SystemExit, ActorExit):
        raise
    except BaseException:
        return run.failed(executor._task_error(name, *sys.exc_info()))
    return run.finished()


async def run_generator_async(executor: Any, task_id: bytes, result: Any, generator: list, name: str
                              ) -> tuple[int, list, list]:  # fmt: skip
    """``run_generator`` for an async generator (an async actor's method, or a task's)."""
    if not inspect.isasyncgen(result):
        return run_generator(executor, task_id, result, generator, name)
    run = GeneratorRun(executor, task_id, generator, name)
    try:
        async for value in result:
            run.send(value)
            if run.should_stop():
                await result.aclose()
                return executor.cancelled(name)
            if run.must_wait:
                await run.wait_async()
    except (Cancelled, asyncio.CancelledError):
        await result.aclose()
        return executor.cancelled(name)
    except (SystemExit, ActorExit):
        raise
    except BaseException:
        return run.failed(executor._task_error(name, *sys.exc_info()))
    return run.finished()
