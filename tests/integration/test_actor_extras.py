"""Actor behaviours Ray programs rely on: graceful ends, ordering, limits, retries, concurrency groups."""

from __future__ import annotations

import asyncio
import os
import threading

import pytest
from helpers import process_ended, wait_for
from signal_helper import Signal

import greenroom as ray
from greenroom.exceptions import ActorDiedError, PendingCallsLimitExceeded

pytestmark = pytest.mark.timeout(60)


@ray.remote
class Recorder:
    def __init__(self, path):
        self.path = path

    def ping(self):
        return "pong"

    def pid(self):
        return os.getpid()

    def __ray_shutdown__(self):
        with open(self.path, "w") as f:
            f.write("shut down")


def test_ray_shutdown_runs_on_a_graceful_end_only(gr, tmp_path):
    """__ray_shutdown__ runs when the actor goes out of scope or is terminated, not on kill()."""
    scoped, terminated, killed = (str(tmp_path / n) for n in ("scoped", "terminated", "killed"))
    a = Recorder.remote(scoped)
    ray.get(a.ping.remote(), timeout=30)
    del a
    wait_for(lambda: os.path.exists(scoped), "__ray_shutdown__ after going out of scope")
    b = Recorder.remote(terminated)
    ray.get(b.ping.remote(), timeout=30)
    ray.get(b.__ray_terminate__.remote(), timeout=30)
    wait_for(lambda: os.path.exists(terminated), "__ray_shutdown__ after __ray_terminate__")
    c = Recorder.remote(killed)
    pid = ray.get(c.pid.remote(), timeout=30)
    ray.kill(c)
    wait_for(lambda: process_ended(pid), "the killed actor's process to end")
    assert not os.path.exists(killed)


def test_ray_terminate_lets_earlier_calls_finish_and_refuses_later_ones(gr, tmp_path):
    """Calls queued before __ray_terminate__ finish; calls after it fail with ActorDiedError."""
    a = Recorder.remote(str(tmp_path / "x"))
    before = [a.ping.remote() for _ in range(5)]
    end = a.__ray_terminate__.remote()
    assert ray.get(before, timeout=30) == ["pong"] * 5
    assert ray.get(end, timeout=30) is None
    with pytest.raises(ActorDiedError, match="__ray_terminate__"):
        ray.get(a.ping.remote(), timeout=30)


@ray.remote
class Async:
    async def echo(self, x):
        return x


@ray.remote
class Sync:
    def echo(self, x):
        return x


def test_an_async_actor_does_not_hold_later_calls_behind_a_pending_argument(gr):
    """Async actors run calls whose arguments are ready, in any order (Ray orders only sync actors)."""
    gate = Signal()
    a = Async.remote()
    held = a.echo.remote(gate.ref)
    later = a.echo.remote("later")
    assert ray.get(later, timeout=30) == "later"
    ready, _ = ray.wait([held], timeout=0)
    assert ready == []
    gate.send("released")
    assert ray.get(held, timeout=30) == "released"


def test_a_sync_actor_keeps_submission_order(gr):
    """A sync actor's later call waits for the earlier one whose argument is pending."""
    gate = Signal()
    s = Sync.remote()
    held = s.echo.remote(gate.ref)
    later = s.echo.remote("later")
    ready, _ = ray.wait([later], timeout=0.3)
    assert ready == []
    gate.send("first")
    assert ray.get([held, later], timeout=30) == ["first", "later"]


def test_max_pending_calls_refuses_calls_beyond_the_limit(gr):
    """max_pending_calls=2: a third pending call from the handle raises PendingCallsLimitExceeded."""
    gate = Signal()
    s = Sync.options(max_pending_calls=2).remote()
    first, second = s.echo.remote(gate.ref), s.echo.remote(2)
    with pytest.raises(PendingCallsLimitExceeded, match="max_pending_calls=2"):
        s.echo.remote(3)
    gate.send(1)
    assert ray.get([first, second], timeout=30) == [1, 2]
    assert ray.get(s.echo.remote(4), timeout=30) == 4  # room again once they finished


@ray.remote(max_restarts=1)
class Fragile:
    def __init__(self):
        self.calls = 0

    @ray.method(max_task_retries=1)
    def die_once(self, marker):
        if not os.path.exists(marker):
            open(marker, "w").close()
            os._exit(1)
        return "retried on the restarted actor"

    def die(self):
        os._exit(1)


def test_a_methods_own_max_task_retries_retries_it_after_a_restart(gr, tmp_path):
    """@ray.method(max_task_retries=1) retries that method's call even though the actor's default is 0."""
    a = Fragile.remote()
    assert ray.get(a.die_once.remote(str(tmp_path / "m")), timeout=30) == "retried on the restarted actor"


@ray.remote(concurrency_groups={"io": 1, "compute": 1})
class Grouped:
    def __init__(self):
        self.event = threading.Event()

    @ray.method(concurrency_group="io")
    def wait_for_compute(self):
        return self.event.wait(20)

    @ray.method(concurrency_group="compute")
    def release(self):
        self.event.set()
        return True


@ray.remote(concurrency_groups={"io": 1, "compute": 1})
class AsyncGrouped:
    def __init__(self):
        self.event = asyncio.Event()

    @ray.method(concurrency_group="io")
    async def wait_for_compute(self):
        await asyncio.wait_for(self.event.wait(), 20)
        return True

    async def release(self):
        self.event.set()
        return True


def test_concurrency_groups_run_apart_sync_and_async(gr):
    """A call blocked in one group does not block another group's call (sync and async actors)."""
    g = Grouped.remote()
    waiting = g.wait_for_compute.remote()
    assert ray.get(g.release.remote(), timeout=30) is True
    assert ray.get(waiting, timeout=30) is True
    a = AsyncGrouped.remote()
    waiting = a.wait_for_compute.remote()
    assert ray.get(a.release.options(concurrency_group="compute").remote(), timeout=30) is True
    assert ray.get(waiting, timeout=30) is True


def test_unknown_concurrency_groups_are_refused_early(gr):
    """A method in an undeclared group fails at decoration; .options(concurrency_group=) is checked."""
    with pytest.raises(ValueError, match="does not declare"):

        @ray.remote(concurrency_groups={"io": 1})
        class Bad:
            @ray.method(concurrency_group="compute")
            def f(self):
                return 1

    g = Grouped.remote()
    with pytest.raises(ValueError, match="no such group"):
        g.release.options(concurrency_group="gpu")


def test_enable_task_events_is_accepted(gr):
    """@ray.method(enable_task_events=False) is accepted, as Ray programs pass it."""

    @ray.remote
    class Quiet:
        @ray.method(enable_task_events=False)
        def f(self):
            return 1

    assert ray.get(Quiet.remote().f.remote(), timeout=30) == 1
