"""greenroom.util.queue.Queue through the public API with real workers: FIFO order, bounds,
timeouts that raise Empty/Full promptly, batches, async use, the queue passed to tasks and
actors, a consumer cancelled while it waits, and a queue whose actor dies.
"""

from __future__ import annotations

import asyncio
import queue as std_queue
import time

import pytest

import greenroom as ray
from greenroom.exceptions import ActorDiedError, TaskCancelledError
from greenroom.util.queue import Empty, Full, Queue
from helpers import wait_for
from signal_helper import StartedFlag

DEADLINE_S = 20.0
PROMPT_S = 2.0  # a timeout of 0.2 s must raise well before this


@ray.remote
def produce(q, items):
    for item in items:
        q.put(item, timeout=DEADLINE_S)
    return len(items)


@ray.remote
def consume_until_empty(q):
    got = []
    try:
        while True:
            got.append(q.get(block=True, timeout=0.5))
    except Empty:
        return got


@ray.remote
def timed_get(q, timeout):
    start = time.monotonic()
    try:
        q.get(timeout=timeout)
    except Empty:
        return time.monotonic() - start
    return None


@ray.remote
def blocked_get(q, flag):
    flag.set()
    return q.get()  # no timeout: waits until an item comes, or the task is stopped


@ray.remote
class Collector:
    async def take(self, q, n):
        return [await q.get_async(timeout=DEADLINE_S) for _ in range(n)]

    def put_many(self, q, items):
        q.put_nowait_batch(items)
        return q.qsize()


def test_fifo_sizes_and_bounds(gr):
    """Items come out in order; qsize/size/len/empty/full track them; maxsize bounds the queue."""
    q = Queue(maxsize=3)
    assert q.empty() and not q.full() and q.qsize() == 0 and len(q) == 0
    for i in range(3):
        q.put(i)
    assert q.full() and q.size() == 3 and len(q) == 3
    assert [q.get(), q.get(), q.get()] == [0, 1, 2]
    assert q.empty()
    unbounded = Queue()
    unbounded.put_nowait_batch(range(1000))
    assert not unbounded.full() and unbounded.qsize() == 1000


def test_nowait_and_timeouts_raise_promptly(gr):
    """get/put without blocking raise at once; with a timeout, right after it; Empty/Full are queue's."""
    q = Queue(maxsize=1)
    with pytest.raises(Empty):
        q.get_nowait()
    with pytest.raises(std_queue.Empty):
        q.get(block=False)
    start = time.monotonic()
    with pytest.raises(Empty):
        q.get(timeout=0.2)
    assert 0.15 < time.monotonic() - start < PROMPT_S
    q.put_nowait("x")
    with pytest.raises(Full):
        q.put_nowait("y")
    with pytest.raises(std_queue.Full):
        q.put("y", block=False)
    start = time.monotonic()
    with pytest.raises(Full):
        q.put("y", timeout=0.2)
    assert 0.15 < time.monotonic() - start < PROMPT_S
    with pytest.raises(ValueError, match="non-negative"):
        q.get(timeout=-1)
    with pytest.raises(ValueError, match="non-negative"):
        q.put("y", timeout=-1)
    assert q.get_nowait() == "x"


def test_batches_are_all_or_nothing(gr):
    """put_nowait_batch and get_nowait_batch move every item or none."""
    q = Queue(maxsize=4)
    q.put_nowait_batch([1, 2, 3])
    with pytest.raises(Full, match="Cannot add 2 items"):
        q.put_nowait_batch([4, 5])
    assert q.qsize() == 3
    with pytest.raises(Empty, match="Cannot get 4 items"):
        q.get_nowait_batch(4)
    assert q.get_nowait_batch(2) == [1, 2]
    assert q.get_nowait_batch(0) == []
    with pytest.raises(TypeError):
        q.put_nowait_batch(7)
    with pytest.raises(TypeError):
        q.get_nowait_batch("2")
    with pytest.raises(ValueError):
        q.get_nowait_batch(-1)


def test_shared_by_tasks_and_actors(gr):
    """One queue passed to a producer task, consumer tasks and an actor carries every item once."""
    q = Queue(maxsize=5)  # smaller than the work: the producer blocks on a full queue
    producer = produce.remote(q, list(range(20)))
    consumers = [consume_until_empty.remote(q) for _ in range(2)]
    assert ray.get(producer, timeout=DEADLINE_S) == 20
    got = ray.get(consumers, timeout=DEADLINE_S)
    assert sorted(got[0] + got[1]) == list(range(20))
    assert got[0] == sorted(got[0]) and got[1] == sorted(got[1])  # each consumer sees FIFO order

    collector = Collector.remote()
    assert ray.get(collector.put_many.remote(q, ["a", "b", "c"]), timeout=DEADLINE_S) == 3
    assert ray.get(collector.take.remote(q, 3), timeout=DEADLINE_S) == ["a", "b", "c"]


def test_timeouts_inside_tasks_raise_promptly(gr):
    """A task's get(timeout=0.2) on an empty queue raises Empty after about 0.2 s."""
    q = Queue()
    elapsed = ray.get(timed_get.remote(q, 0.2), timeout=DEADLINE_S)
    assert elapsed is not None and 0.15 < elapsed < PROMPT_S


def test_async_put_and_get(gr):
    """put_async/get_async work from the driver's own event loop and block/timeout the same way."""
    q = Queue(maxsize=1)

    async def main():
        await q.put_async(1)
        with pytest.raises(Full):
            await q.put_async(2, block=False)
        with pytest.raises(Full):
            await q.put_async(2, timeout=0.1)
        first = await q.get_async()
        with pytest.raises(Empty):
            await q.get_async(timeout=0.1)
        with pytest.raises(Empty):
            await q.get_async(block=False)
        return first

    assert asyncio.run(main()) == 1


def test_a_cancelled_consumer_takes_no_item(gr, tmp_path):
    """Cancelling a task blocked in get() raises TaskCancelledError promptly, and its wait is
    withdrawn: the next item goes to the next consumer, not to the cancelled one."""
    q = Queue()
    flag = StartedFlag(tmp_path)
    waiter = blocked_get.remote(q, flag)
    flag.wait(DEADLINE_S)
    wait_for(lambda: ray.get(q.actor.num_waiting.remote()) == 1, "the consumer to block in get()")
    ray.cancel(waiter)
    with pytest.raises(TaskCancelledError):
        ray.get(waiter, timeout=DEADLINE_S)
    wait_for(lambda: ray.get(q.actor.num_waiting.remote()) == 0, "the cancelled get() to be withdrawn")
    q.put("item")
    assert q.get(timeout=DEADLINE_S) == "item"
    flag.close()


def test_a_dead_queue_actor_fails_calls_at_once(gr, tmp_path):
    """If the queue's actor dies, waiting and later calls raise ActorDiedError saying so; none hangs."""
    q = Queue()
    flag = StartedFlag(tmp_path)
    waiter = blocked_get.remote(q, flag)
    flag.wait(DEADLINE_S)
    ray.kill(q.actor)
    with pytest.raises(ActorDiedError):
        ray.get(waiter, timeout=DEADLINE_S)
    with pytest.raises(ActorDiedError, match="Queue's actor is dead"):
        q.get(timeout=DEADLINE_S)
    with pytest.raises(ActorDiedError):
        q.put_nowait(1)
    flag.close()


def test_shutdown(gr):
    """shutdown() ends the actor; the handle then says it was shut down (not that it broke)."""
    q = Queue()
    q.put(1)
    actor = q.actor
    q.shutdown()
    with pytest.raises(RuntimeError, match="shut down"):
        q.get()
    with pytest.raises(ActorDiedError):
        ray.get(actor.qsize.remote(), timeout=DEADLINE_S)
    q.shutdown()  # twice is fine
    forced = Queue(actor_options={"name": "named-queue"})
    forced.shutdown(force=True)
    with pytest.raises(ValueError):
        ray.get_actor("named-queue")
