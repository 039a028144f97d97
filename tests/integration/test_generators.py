"""Generators: streaming (ObjectRefGenerator) and dynamic tasks and actor methods, as in Ray.

The producer is made slower than the consumer with a Signal it waits on, and faster by
letting it finish before the consumer starts; backpressure is observed through a counter
file the producer writes, and the node's record of a producer waiting on it.
"""

from __future__ import annotations

import asyncio
import gc
import os

import numpy as np
import pytest
from helpers import wait_for
from signal_helper import Signal, StartedFlag

import greenroom as ray
from greenroom.exceptions import ActorDiedError, TaskCancelledError, WorkerCrashedError
from greenroom.runtime import state
from greenroom.util.state import list_tasks

pytestmark = pytest.mark.timeout(90)


def stored() -> set[bytes]:
    """Object ids the node holds, after every reference event sent so far is applied."""
    gc.collect()
    ray.available_resources()  # a round trip through the node's loop: earlier events are in
    return set(state.runtime().node.objects.entries)


def producer_waits(gen: ray.ObjectRefGenerator) -> int | None:
    """After which value the generator's producer waits on backpressure (the node's record), or None."""
    stream = state.runtime().node.streams.streams.get(gen.completed().id[:12])
    return stream.state.waiting if stream is not None and stream.producer is not None else None


def count(path: str) -> int:
    try:
        with open(path) as f:
            return int(f.read() or 0)
    except FileNotFoundError:
        return 0


def note(path: str, i: int) -> None:
    """The producer's counter: how many values it has computed (written atomically)."""
    with open(path + ".tmp", "w") as f:
        f.write(str(i))
    os.replace(path + ".tmp", path)


@ray.remote
def numbers(n):
    yield from range(n)


@ray.remote(max_retries=0)
def counted(path, n):
    for i in range(1, n + 1):
        note(path, i)
        yield i


@ray.remote(max_retries=0)
def raises_after(n):
    yield from range(n)
    raise KeyError("the generator broke")


@ray.remote
class Producer:
    def values(self, n):
        for i in range(n):
            yield i * 10

    async def async_values(self, n):
        for i in range(n):
            await asyncio.sleep(0)
            yield i * 100

    def broken(self):
        yield "first"
        raise ValueError("broken method")


@ray.remote
class SyncProducer:
    def forever(self, path):
        i = 0
        while True:
            i += 1
            note(path, i)
            yield i

    def values(self, n):
        yield from range(n)


# -- streaming: the basics --------------------------------------------------------------------------
def test_a_generator_function_streams_its_values_by_default(gr):
    """@remote on a generator function: .remote() gives an ObjectRefGenerator of refs, then StopIteration."""
    gen = numbers.remote(4)
    assert isinstance(gen, ray.ObjectRefGenerator)
    refs = list(gen)
    assert all(isinstance(r, ray.ObjectRef) for r in refs)
    assert ray.get(refs) == [0, 1, 2, 3]
    with pytest.raises(StopIteration):
        next(gen)
    assert gen.is_finished() and not gen.next_ready()
    assert ray.get(gen.completed(), timeout=10) is None


def test_num_returns_streaming_and_options(gr):
    """num_returns="streaming" in @remote and in .options(); an empty generator stops at once."""
    streamed = ray.remote(num_returns="streaming")(lambda n: (i for i in range(n)))
    assert [ray.get(r) for r in streamed.remote(3)] == [0, 1, 2]
    assert list(numbers.options(num_returns="streaming").remote(0)) == []
    assert ray.get(numbers.options(num_returns=2).remote(2)) == [0, 1]  # an int: plain returns, as in Ray


def test_the_caller_sees_values_while_a_slower_producer_still_runs(gr):
    """A producer that waits between values: the caller gets the first while the task runs."""
    sig = Signal()

    @ray.remote
    def slow(gate):
        yield "first"
        ray.get(gate[0])  # the consumer lets it go on
        yield "second"

    gen = slow.remote([sig.ref])
    assert ray.get(next(gen), timeout=20) == "first"
    ready, _ = ray.wait([gen.completed()], timeout=0)
    assert not ready  # still running, blocked on the signal
    assert not gen.next_ready()
    sig.send()
    assert ray.get(next(gen), timeout=20) == "second"
    with pytest.raises(StopIteration):
        next(gen)


def test_a_faster_producer_runs_ahead_and_everything_waits_for_the_caller(gr):
    """A producer that finishes before the caller reads: every value is kept until taken."""
    gen = numbers.remote(20)
    ray.get(gen.completed(), timeout=20)  # it ran to its end
    assert gen.next_ready()
    assert ray.get(list(gen)) == list(range(20))


def test_async_for_in_the_driver(gr):
    """`async for` over an ObjectRefGenerator, awaiting each ref, while another coroutine runs."""
    sig = Signal()

    @ray.remote
    def gated(gate):
        yield 1
        ray.get(gate[0])
        yield 2

    async def main():
        gen = gated.remote([sig.ref])
        seen = []
        async for ref in gen:
            seen.append(await ref)
            if len(seen) == 1:
                await asyncio.sleep(0)  # the loop is free while we wait: nothing blocks it
                sig.send()
        return seen

    assert asyncio.run(asyncio.wait_for(main(), 30)) == [1, 2]


def test_anext_raises_stop_async_iteration_at_the_end(gr):
    """__anext__ at the end raises StopAsyncIteration, again and again."""

    async def main():
        gen = numbers.remote(1)
        assert await (await gen.__anext__()) == 0
        for _ in range(2):
            with pytest.raises(StopAsyncIteration):
                await gen.__anext__()

    asyncio.run(asyncio.wait_for(main(), 30))


def test_actor_methods_sync_async_and_threaded_stream(gr):
    """Generator methods stream by default on sync, async and threaded actors."""
    p = Producer.remote()
    assert ray.get(list(p.values.remote(3))) == [0, 10, 20]
    assert ray.get(list(p.async_values.remote(3))) == [0, 100, 200]
    threaded = SyncProducer.options(max_concurrency=4).remote()
    assert ray.get(list(threaded.values.remote(5))) == [0, 1, 2, 3, 4]
    plain = SyncProducer.remote()
    assert ray.get(list(plain.values.options(num_returns="streaming").remote(2))) == [0, 1]


def test_ray_method_num_returns_streaming(gr):
    """@ray.method(num_returns="streaming") on a method that returns a generator object."""

    @ray.remote
    class Wrapper:
        @ray.method(num_returns="streaming")
        def items(self, n):
            return iter_values(n)

    w = Wrapper.remote()
    assert ray.get(list(w.items.remote(3))) == [0, 1, 2]


def iter_values(n):
    yield from range(n)


def test_a_task_consumes_a_generator_and_an_async_actor_consumes_one_with_async_for(gr):
    """Callers inside workers: a task iterates; an async actor uses `async for` on its event loop."""

    @ray.remote
    def consume(n):
        return [ray.get(r) for r in numbers.remote(n)]

    @ray.remote
    class AsyncConsumer:
        async def consume(self, producer, n):
            return [await r async for r in producer.async_values.remote(n)]

    assert ray.get(consume.remote(5), timeout=30) == [0, 1, 2, 3, 4]
    c = AsyncConsumer.remote()
    assert ray.get(c.consume.remote(Producer.remote(), 4), timeout=30) == [0, 100, 200, 300]


def test_wait_accepts_generators(gr):
    """wait() takes generators among refs: ready when next() would not block."""
    sig = Signal()

    @ray.remote
    def gated(gate):
        ray.get(gate[0])
        yield "v"

    gen = gated.remote([sig.ref])
    done = numbers.remote(1)
    ready, not_ready = ray.wait([gen, done], num_returns=1, timeout=20)
    assert ready == [done] and not_ready == [gen]
    ready, not_ready = ray.wait([gen], timeout=0)
    assert ready == [] and not_ready == [gen]
    sig.send()
    ready, _ = ray.wait([gen], timeout=20)
    assert ready == [gen]
    assert ray.get(next(gen)) == "v"
    with pytest.raises(StopIteration):
        next(gen)
    assert ray.wait([gen], timeout=0)[0] == [gen]  # finished: next() returns (raises) at once
    with pytest.raises(TypeError):
        ray.wait(gen)


def test_get_returns_a_generator_as_it_is_and_it_cannot_travel(gr):
    """get(gen) is gen (Ray); passing one to a task raises TypeError in the caller."""
    gen = numbers.remote(2)
    assert ray.get(gen) is gen
    with pytest.raises(TypeError, match="generator"):
        ray.remote(lambda g: 1).remote([gen])
    assert ray.get(list(gen)) == [0, 1]


# -- errors ----------------------------------------------------------------------------------------
def test_an_error_midway_gives_the_refs_so_far_then_the_error(gr):
    """A generator that raises: its values, then a ref whose get() raises, then StopIteration."""
    gen = raises_after.remote(2)
    first, second, error = next(gen), next(gen), next(gen)
    assert ray.get([first, second]) == [0, 1]
    with pytest.raises(KeyError, match="the generator broke"):
        ray.get(error)
    with pytest.raises(ray.exceptions.RayTaskError):
        ray.get(error)
    with pytest.raises(StopIteration):
        next(gen)
    assert ray.get(gen.completed()) is None  # as in Ray: the error is an item, the task itself ended


def test_an_actor_method_that_raises_midway(gr):
    """The same for an actor's generator method; the actor lives on."""
    p = Producer.remote()
    refs = list(p.broken.remote())
    assert len(refs) == 2 and ray.get(refs[0]) == "first"
    with pytest.raises(ValueError, match="broken method"):
        ray.get(refs[1])
    assert ray.get(list(p.values.remote(1))) == [0]


def test_a_function_that_does_not_return_a_generator(gr):
    """num_returns="streaming" on a function returning a list: the one item is a TypeError saying so."""
    plain = ray.remote(num_returns="streaming")(lambda: [1, 2])
    refs = list(plain.remote())
    with pytest.raises(TypeError, match="not a generator"):
        ray.get(refs[0])


def test_a_worker_crash_midstream_ends_the_stream_with_the_error(gr):
    """The worker dies after two values (no retries): the two, then WorkerCrashedError, no hang."""

    @ray.remote(max_retries=0)
    def dies():
        yield 1
        yield 2
        os._exit(3)

    gen = dies.remote()
    refs = list(gen)
    assert ray.get(refs[:2]) == [1, 2] and len(refs) == 3
    with pytest.raises(WorkerCrashedError, match="exit code 3"):
        ray.get(refs[2], timeout=20)
    with pytest.raises(WorkerCrashedError):
        ray.get(gen.completed())


def test_an_actor_dying_midstream_ends_the_stream_with_actor_died(gr):
    """The actor's process dies while its generator method runs: ActorDiedError after the values."""

    @ray.remote
    class Fragile:
        def values(self):
            yield "a"
            os._exit(1)

    refs = list(Fragile.remote().values.remote())
    assert ray.get(refs[0]) == "a"
    with pytest.raises(ActorDiedError):
        ray.get(refs[-1], timeout=20)


def test_a_retried_task_does_not_repeat_what_the_caller_saw(gr, tmp_path):
    """A crash after two values with max_retries=1: the retry's repeats are dropped, the rest follow."""
    marker = str(tmp_path / "crashed")

    @ray.remote(max_retries=1)
    def flaky(marker):
        for i in range(5):
            yield i
            if i == 1 and not os.path.exists(marker):
                open(marker, "w").close()
                os._exit(1)

    assert ray.get(list(flaky.remote(marker)), timeout=30) == [0, 1, 2, 3, 4]


# -- backpressure ----------------------------------------------------------------------------------
def test_backpressure_bounds_how_far_the_producer_runs_ahead(gr, tmp_path):
    """With _generator_backpressure_num_objects=2 the producer computes at most 2 values the caller has not taken."""
    path = str(tmp_path / "count")
    gen = counted.options(_generator_backpressure_num_objects=2).remote(path, 6)
    for taken in range(4):  # after taking `taken` refs, it stops at taken + 2 computed values
        wait_for(
            lambda taken=taken: producer_waits(gen) == taken + 2,
            f"the producer to wait after {taken + 2} values",
        )
        assert count(path) == taken + 2
        assert ray.get(next(gen), timeout=20) == taken + 1
    assert ray.get(list(gen), timeout=20) == [5, 6]
    assert count(path) == 6


def test_backpressure_on_an_actor_method(gr, tmp_path):
    """@ray.method(_generator_backpressure_num_objects=1): the actor computes one value ahead at most."""

    @ray.remote
    class Counter:
        @ray.method(num_returns="streaming", _generator_backpressure_num_objects=1)
        def values(self, path, n):
            for i in range(1, n + 1):
                note(path, i)
                yield i

    path = str(tmp_path / "count")
    gen = Counter.remote().values.remote(path, 3)
    for taken in range(2):
        wait_for(lambda taken=taken: producer_waits(gen) == taken + 1, "the actor to wait")
        assert count(path) == taken + 1
        assert ray.get(next(gen)) == taken + 1
    assert ray.get(list(gen)) == [3]


def test_a_producer_without_a_reader_is_released_when_the_generator_is_dropped(gr, tmp_path):
    """Backpressure holds the producer; dropping the generator lets it run to its end, unread."""
    path = str(tmp_path / "count")
    gen = counted.options(_generator_backpressure_num_objects=1).remote(path, 50)
    done = gen.completed()
    wait_for(lambda g=gen: producer_waits(g) == 1, "the producer to wait")
    del gen
    gc.collect()
    assert ray.get(done, timeout=20) is None
    assert count(path) == 50


# -- cancel ----------------------------------------------------------------------------------------
@ray.remote(max_retries=0)
def forever(path):
    i = 0
    while True:
        i += 1
        note(path, i)
        yield i


@pytest.mark.parametrize("force", [False, True])
def test_cancel_stops_a_running_generator_task(gr, tmp_path, force):
    """cancel(gen) of an endless generator: the task ends (TaskCancelledError) within a deadline."""
    path = str(tmp_path / "count")
    gen = forever.remote(path)
    assert ray.get(next(gen), timeout=20) == 1
    ray.cancel(gen, force=force)
    with pytest.raises(TaskCancelledError):
        ray.get(gen.completed(), timeout=20)  # it stopped producing: the call is over
    final = count(path)
    assert ray.get(numbers.remote(1).completed(), timeout=20) is None  # a round trip through the workers
    assert count(path) == final  # nothing runs it any more
    refs = list(gen)  # what it yielded before it stopped, then the error
    with pytest.raises(TaskCancelledError):
        ray.get(refs[-1])
    assert ray.get(refs[:-1]) == list(range(2, len(refs) + 1))


def test_cancel_stops_a_generator_waiting_on_backpressure(gr, tmp_path):
    """A producer paused by backpressure ends at cancel(): its waiting is answered, not left hanging."""
    path = str(tmp_path / "count")
    gen = forever.options(_generator_backpressure_num_objects=1).remote(path)
    wait_for(lambda: producer_waits(gen) == 1, "the producer to wait")
    ray.cancel(gen)
    with pytest.raises(TaskCancelledError):
        ray.get(gen.completed(), timeout=20)
    assert count(path) == 1
    assert ray.get(next(gen)) == 1
    with pytest.raises(TaskCancelledError):
        ray.get(next(gen))
    assert ray.get(numbers.remote(1).completed(), timeout=20) is None  # the worker serves again


def test_cancel_stops_sync_and_async_actor_generators(gr, tmp_path):
    """Endless generator methods stop at cancel(): a sync actor's after its next value, an async one's at once."""
    path = str(tmp_path / "count")
    sync = SyncProducer.remote()
    gen = sync.forever.remote(path)
    ray.get(next(gen), timeout=20)
    ray.cancel(gen)
    with pytest.raises(TaskCancelledError):
        ray.get(gen.completed(), timeout=20)
    final = count(path)
    assert ray.get(list(sync.values.remote(2))) == [0, 1]  # the actor lives on, and serves other calls
    assert count(path) == final

    @ray.remote
    class AsyncForever:
        async def forever(self, flag):
            flag.set()
            while True:
                await asyncio.sleep(0.01)
                yield 1

    flag = StartedFlag(tmp_path)
    gen = AsyncForever.remote().forever.remote(flag)
    flag.wait()
    flag.close()
    ray.cancel(gen)
    with pytest.raises(TaskCancelledError):
        ray.get(gen.completed(), timeout=20)


# -- dynamic ---------------------------------------------------------------------------------------
def test_dynamic_gives_a_ref_to_a_dynamic_object_ref_generator(gr):
    """num_returns="dynamic": one ref, whose value is a DynamicObjectRefGenerator of the values' refs."""
    ref = numbers.options(num_returns="dynamic").remote(3)
    assert isinstance(ref, ray.ObjectRef)
    dyn = ray.get(ref)
    assert isinstance(dyn, ray.DynamicObjectRefGenerator) and len(dyn) == 3
    assert ray.get(list(dyn)) == [0, 1, 2]
    assert len(dyn) == 0  # iterating takes the refs out, as in Ray

    @ray.remote
    def total(refs_of):
        return sum(ray.get(list(refs_of)))

    assert ray.get(total.remote(ref)) == 3  # passed to a task, it arrives as the generator


def test_dynamic_error_is_an_extra_last_ref(gr):
    """A dynamic generator that raises: its values, then one more ref holding the error."""
    refs = list(ray.get(raises_after.options(num_returns="dynamic").remote(2)))
    assert len(refs) == 3 and ray.get(refs[:2]) == [0, 1]
    with pytest.raises(KeyError):
        ray.get(refs[2])


def test_dynamic_actor_method(gr):
    """@ray.method(num_returns="dynamic") on an async actor's async generator."""

    @ray.remote
    class Dyn:
        @ray.method(num_returns="dynamic")
        async def values(self, n):
            for i in range(n):
                yield i

    assert ray.get(list(ray.get(Dyn.remote().values.remote(3)))) == [0, 1, 2]


# -- object lifetimes -------------------------------------------------------------------------------
def test_values_are_freed_when_their_refs_and_the_generator_go(gr):
    """Taken refs live while held; values never taken go with the generator; nothing is left."""
    before = stored()
    gen = numbers.remote(5)
    first = next(gen)
    ray.get(gen.completed(), timeout=20)  # all 5 produced
    del gen
    assert stored() - before == {first.id}
    assert ray.get(first) == 0
    del first
    assert stored() == before


def test_a_generator_dropped_while_its_task_runs_leaves_nothing(gr):
    """Dropped half-way with the producer still running: what it yields later is not kept either."""
    sig = Signal()

    @ray.remote
    def gated(gate):
        yield 1
        ray.get(gate[0])
        yield from range(10)

    before = stored() | {sig.ref.id}
    gen = gated.remote([sig.ref])
    assert ray.get(next(gen), timeout=20) == 1
    done = gen.completed()
    del gen
    stored()
    sig.send()
    ray.get(done, timeout=20)
    del done
    assert stored() <= before


def test_large_values_stream_through_shared_memory_and_are_freed(gr):
    """Arrays above the inline limit travel through the object store, and go back to it."""

    @ray.remote
    def arrays(n):
        for i in range(n):
            yield np.full(300_000, i, dtype=np.float64)

    before = stored()
    for i, ref in enumerate(arrays.remote(4)):
        assert ray.get(ref)[0] == i
    del ref
    assert stored() == before


def test_a_worker_that_consumed_part_of_a_stream_leaves_nothing(gr):
    """A task takes one value of a generator and returns: the rest is freed with its generator."""

    @ray.remote
    def first_of(n):
        gen = numbers.remote(n)
        value = ray.get(next(gen))
        ray.get(gen.completed())
        return value

    before = stored()
    assert ray.get(first_of.remote(5), timeout=30) == 0
    wait_for(lambda: stored() <= before, "the stream's values to be freed")


# -- a generator called with an integer num_returns ------------------------------------------------


@ray.remote
def yields_then_raises(before: int):
    for i in range(before):
        yield np.full(3, i)
    raise KeyError("part-way")


@ray.remote
class PartWay:
    @ray.method(num_returns=3)
    def values(self, before: int):
        yield from range(before)
        raise KeyError("part-way")


def test_an_integer_num_returns_generator_keeps_what_it_yielded_before_raising(gr):
    """As in Ray: the refs of the values yielded before the error hold them; the rest raise it."""
    refs = yields_then_raises.options(num_returns=4).remote(2)
    assert [r.tolist() for r in ray.get(refs[:2], timeout=30)] == [[0, 0, 0], [1, 1, 1]]
    for ref in refs[2:]:
        with pytest.raises(KeyError, match="part-way"):
            ray.get(ref, timeout=30)
    [row] = list_tasks(filters=[("name", "=", "yields_then_raises")])
    assert (row["state"], row["error_type"]) == ("FAILED", "TASK_EXECUTION_EXCEPTION")


def test_one_that_raises_before_any_value_fails_every_ref(gr):
    refs = yields_then_raises.options(num_returns=3).remote(0)
    for ref in refs:
        with pytest.raises(KeyError, match="part-way"):
            ray.get(ref, timeout=30)


def test_an_actor_method_keeps_its_values_too(gr):
    actor = PartWay.remote()
    first, second, third = actor.values.remote(2)
    assert ray.get([first, second], timeout=30) == [0, 1]
    with pytest.raises(KeyError, match="part-way"):
        ray.get(third, timeout=30)
    assert ray.get(actor.values.remote(1)[0], timeout=30) == 0  # the actor lives on
