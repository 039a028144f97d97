"""cancel(): prompt TaskCancelledError for tasks in every phase, and for actor calls as Ray does."""

from __future__ import annotations

import asyncio
import time

import pytest
from signal_helper import StartedFlag

import greenroom as ray
from greenroom.exceptions import TaskCancelledError

pytestmark = pytest.mark.timeout(90)


@ray.remote(max_retries=0)
def sleeper(flag=None):
    if flag is not None:
        flag.set()
    time.sleep(1000)


@ray.remote(max_retries=0)
def busy(flag):
    flag.set()
    while True:
        pass


@ray.remote
def square(x):
    return x * x


def test_cancel_right_after_remote_never_hangs(gr):
    """Cancelled at once (queued, its worker forking, or its EXEC on the way): TaskCancelledError, fast."""
    ray.get([square.remote(i) for i in range(20)], timeout=30)  # warm workers: EXECs go out at once
    for force in (False, True):
        for _ in range(15):
            ref = sleeper.remote()
            ray.cancel(ref, force=force)
            with pytest.raises(TaskCancelledError):
                ray.get(ref, timeout=10)
    assert ray.get([square.remote(i) for i in range(4)], timeout=30) == [0, 1, 4, 9]


@pytest.mark.parametrize("force", [False, True])
@pytest.mark.parametrize("body", [sleeper, busy], ids=["sleeping", "busy-in-python"])
def test_cancel_of_a_running_task(gr, tmp_path, body, force):
    """A task sleeping or spinning in Python: cancel() makes get() raise TaskCancelledError promptly."""
    flag = StartedFlag(tmp_path)
    ref = body.remote(flag)
    flag.wait()
    flag.close()
    ray.cancel(ref, force=force)
    with pytest.raises(TaskCancelledError):
        ray.get(ref, timeout=10)
    assert ray.get(square.remote(3), timeout=30) == 9


@ray.remote
class Worker:
    def __init__(self):
        self.polled = 0

    def block(self, flag):
        flag.set()
        while not ray.get_runtime_context().is_canceled():
            self.polled += 1
            time.sleep(0.01)  # the method's own work between polls, not synchronisation
        return "stopped early"

    def ran(self):
        return self.polled


@ray.remote
class AsyncWorker:
    async def wait_forever(self, flag):
        if flag is not None:
            flag.set()
        await asyncio.sleep(1000)

    async def ping(self):
        return "pong"


def test_a_sync_actor_call_polls_is_canceled_and_ends_cancelled(gr, tmp_path):
    """A running sync actor call sees is_canceled() turn True; its caller gets TaskCancelledError."""
    actor = Worker.remote()
    flag = StartedFlag(tmp_path)
    ref = actor.block.remote(flag)
    flag.wait()
    flag.close()
    ray.cancel(ref)
    with pytest.raises(TaskCancelledError):
        ray.get(ref, timeout=20)
    assert ray.get(actor.ran.remote(), timeout=20) >= 0  # the actor lives on


def test_a_queued_actor_call_is_cancelled_without_running(gr, tmp_path):
    """A call waiting behind a running one is taken out of the queue: it never runs."""
    actor = Worker.options(max_concurrency=1).remote()
    flag = StartedFlag(tmp_path)
    running = actor.block.remote(flag)
    flag.wait()
    flag.close()
    queued = actor.ran.remote()
    ray.cancel(queued)
    with pytest.raises(TaskCancelledError):
        ray.get(queued, timeout=20)
    ray.cancel(running)
    with pytest.raises(TaskCancelledError):
        ray.get(running, timeout=20)


def test_an_async_actor_call_is_cancelled_like_an_asyncio_task(gr, tmp_path):
    """cancel() of a call awaiting on an async actor cancels its coroutine; the actor goes on."""
    actor = AsyncWorker.remote()
    flag = StartedFlag(tmp_path)
    ref = actor.wait_forever.remote(flag)
    flag.wait()
    flag.close()
    ray.cancel(ref)
    with pytest.raises(TaskCancelledError):
        ray.get(ref, timeout=20)
    assert ray.get(actor.ping.remote(), timeout=20) == "pong"


def test_force_cancel_of_an_actor_call_is_refused(gr):
    """Actors keep state: cancel(force=True) of an actor call raises ValueError saying what to do."""
    actor = AsyncWorker.remote()
    ref = actor.ping.remote()
    ray.get(ref, timeout=20)
    slow = actor.wait_forever.remote(None)
    with pytest.raises(ValueError, match=r"force=True\) is not supported for actor calls"):
        ray.cancel(slow, force=True)
    ray.cancel(slow)
    with pytest.raises(TaskCancelledError):
        ray.get(slow, timeout=20)
