"""Actor failures through the public API: constructor errors, crashes, restarts, retries,
unschedulable and waiting actors, and methods that raise.

Crashes are real: a method ends its own process with ``os._exit`` or SIGKILL. A
crash that must happen only once (so a retried call succeeds) keys on a marker
file in ``tmp_path``.
"""

from __future__ import annotations

import os
import signal

import pytest

import greenroom as ray
from greenroom.exceptions import (
    ActorDiedError,
    ActorUnschedulableError,
    RayActorError,
    RayTaskError,
)
from helpers import wait_for
from signal_helper import Signal

DEADLINE_S = 20.0


def gpus_free() -> float:
    return ray.available_resources().get("GPU", 0.0)


@ray.remote
class BadInit:
    def __init__(self, text):
        raise ValueError(text)

    def ping(self):
        return "pong"


@ray.remote
class Fragile:
    def __init__(self):
        self.n = 0

    def incr(self):
        self.n += 1
        return self.n

    def info(self):
        return {"pid": os.getpid(), "n": self.n, "gpus": ray.get_gpu_ids(),
                "cuda": os.environ.get("CUDA_VISIBLE_DEVICES")}  # fmt: skip

    def exit_with(self, code):
        os._exit(code)

    def sigkill(self):
        os.kill(os.getpid(), signal.SIGKILL)

    def crash_once(self, marker):
        """Crash the first time it is called (anywhere), return the pid after that."""
        if not os.path.exists(marker):
            open(marker, "w").close()
            os._exit(7)
        return os.getpid()

    def wait_on(self, ref_list):
        return ray.get(ref_list[0], timeout=DEADLINE_S)

    def fail(self, text):
        raise KeyError(text)


# -- constructor ---------------------------------------------------------------------------
def test_constructor_error_fails_every_call(gr):
    """If __init__ raises, every call raises RayActorError carrying the constructor's error."""
    a = BadInit.options(num_gpus=1).remote("ctor-broke-4711")
    refs = [a.ping.remote() for _ in range(3)]
    for ref in refs:
        with pytest.raises(RayActorError, match="ctor-broke-4711") as info:
            ray.get(ref, timeout=DEADLINE_S)
        assert isinstance(info.value, ActorDiedError)
    with pytest.raises(ActorDiedError, match="ctor-broke-4711"):
        ray.get(a.ping.remote(), timeout=DEADLINE_S)  # submitted after it died
    wait_for(lambda: gpus_free() == 4, "the failed actor's GPU to come back")


@ray.remote
class CrashingInit:
    def __init__(self, marker):
        if not os.path.exists(marker):
            open(marker, "w").close()
            os._exit(5)
        self.pid = os.getpid()

    def get_pid(self):
        return self.pid


def test_constructor_error_is_not_restarted(gr):
    """A constructor that raises is final even with max_restarts left."""
    a = BadInit.options(max_restarts=3).remote("ctor-broke-again")
    with pytest.raises(ActorDiedError, match="ctor-broke-again"):
        ray.get(a.ping.remote(), timeout=DEADLINE_S)
    with pytest.raises(ActorDiedError, match="ctor-broke-again"):
        ray.get(a.ping.remote(), timeout=DEADLINE_S)


def test_constructor_crash_restarts_and_reruns_constructor(gr, tmp_path):
    """A process that dies in the constructor is restarted (max_restarts=1) and the constructor runs again."""
    a = CrashingInit.options(max_restarts=1).remote(str(tmp_path / "crashed"))
    pid = ray.get(a.get_pid.remote(), timeout=DEADLINE_S)
    assert pid != os.getpid() and (tmp_path / "crashed").exists()


# -- crashes -------------------------------------------------------------------------------
def test_exit_fails_calls_in_flight_and_later(gr):
    """os._exit(3) in a method: the running, queued and later calls raise ActorDiedError
    naming the class, pid and exit code."""
    a = Fragile.options(max_concurrency=2).remote()
    pid = ray.get(a.info.remote())["pid"]
    sig = Signal()
    running = a.wait_on.remote([sig.ref])
    ready, _ = ray.wait([running], timeout=0.2)
    assert ready == []
    crash = a.exit_with.remote(3)
    queued = [a.incr.remote() for _ in range(3)]
    for ref in [crash, running, *queued]:
        with pytest.raises(ActorDiedError) as info:
            ray.get(ref, timeout=DEADLINE_S)
        text = str(info.value)
        assert "Fragile" in text and str(pid) in text and "exit code 3" in text, text
        assert "restarted" not in text, text  # max_restarts=0: it never restarts
    with pytest.raises(ActorDiedError, match="exit code 3"):
        ray.get(a.incr.remote(), timeout=DEADLINE_S)
    sig.send()


def test_sigkill_names_the_signal(gr):
    """A method that SIGKILLs its own process: calls raise ActorDiedError naming SIGKILL and the pid."""
    a = Fragile.remote()
    pid = ray.get(a.info.remote())["pid"]
    crash = a.sigkill.remote()
    later = a.incr.remote()
    for ref in (crash, later):
        with pytest.raises(ActorDiedError) as info:
            ray.get(ref, timeout=DEADLINE_S)
        text = str(info.value)
        assert "Fragile" in text and str(pid) in text and "SIGKILL" in text, text
        assert "restarted" not in text, text


def test_crash_returns_resources(gr):
    """An actor that crashes for good gives its GPUs back."""
    a = Fragile.options(num_gpus=2).remote()
    ray.get(a.info.remote())
    assert gpus_free() == 2
    with pytest.raises(ActorDiedError):
        ray.get(a.exit_with.remote(1), timeout=DEADLINE_S)
    wait_for(lambda: gpus_free() == 4, "the crashed actor's GPUs to come back")


# -- restarts ------------------------------------------------------------------------------
def test_restart_gives_fresh_process_same_gpus(gr):
    """max_restarts=1: after a crash the actor runs in a new process, constructor rerun, same GPU ids."""
    a = Fragile.options(num_gpus=1, max_restarts=1).remote()
    ray.get([a.incr.remote() for _ in range(3)])
    before = ray.get(a.info.remote())
    assert before["n"] == 3
    with pytest.raises(ActorDiedError, match="restarted"):
        ray.get(a.exit_with.remote(1), timeout=DEADLINE_S)
    after = ray.get(a.info.remote(), timeout=DEADLINE_S)
    assert after["pid"] != before["pid"]
    assert after["n"] == 0
    assert after["gpus"] == before["gpus"] and after["cuda"] == before["cuda"] == str(before["gpus"][0])
    assert gpus_free() == 3  # held across the restart, not doubled


def test_restart_fails_in_flight_calls_without_task_retries(gr):
    """With max_task_retries=0, calls in flight when it crashed fail saying it restarted; later ones run."""
    a = Fragile.options(max_restarts=1, max_concurrency=2).remote()
    ray.get(a.info.remote())
    sig = Signal()
    running = a.wait_on.remote([sig.ref])
    ready, _ = ray.wait([running], timeout=0.2)
    assert ready == []
    crash = a.exit_with.remote(1)
    for ref in (crash, running):
        with pytest.raises(RayActorError, match="restarted"):
            ray.get(ref, timeout=DEADLINE_S)
    assert ray.get(a.incr.remote(), timeout=DEADLINE_S) == 1
    sig.send()


def test_task_retries_rerun_in_flight_calls(gr, tmp_path):
    """With max_task_retries=1, the call that crashed and the calls behind it run again on the
    restarted actor, in order, and succeed."""
    a = Fragile.options(max_restarts=1, max_task_retries=1).remote()
    first_pid = ray.get(a.info.remote())["pid"]
    crash = a.crash_once.remote(str(tmp_path / "crashed"))
    behind = [a.incr.remote() for _ in range(3)]
    new_pid = ray.get(crash, timeout=DEADLINE_S)
    assert new_pid != first_pid
    assert ray.get(behind, timeout=DEADLINE_S) == [1, 2, 3]
    assert ray.get(a.info.remote())["pid"] == new_pid


def test_kill_without_no_restart_restarts(gr):
    """kill(no_restart=False) restarts an actor with restarts left; once they are used up it is dead."""
    a = Fragile.options(max_restarts=1, max_task_retries=1).remote()
    assert ray.get(a.incr.remote()) == 1
    pid1 = ray.get(a.info.remote())["pid"]
    ray.kill(a, no_restart=False)
    after = ray.get(a.info.remote(), timeout=DEADLINE_S)
    assert after["pid"] != pid1 and after["n"] == 0
    ray.kill(a, no_restart=False)  # no restarts left
    with pytest.raises(ActorDiedError):
        ray.get(a.info.remote(), timeout=DEADLINE_S)


def test_kill_without_no_restart_and_no_restarts_is_final(gr):
    """kill(no_restart=False) on an actor with max_restarts=0 ends it for good."""
    a = Fragile.options(num_gpus=1).remote()
    ray.get(a.info.remote())
    ray.kill(a, no_restart=False)
    with pytest.raises(ActorDiedError):
        ray.get(a.info.remote(), timeout=DEADLINE_S)
    wait_for(lambda: gpus_free() == 4, "the killed actor's GPU to come back")


def test_restarts_exhausted_means_dead(gr):
    """With max_restarts=1 the second crash is final: that call and later ones raise ActorDiedError."""
    a = Fragile.options(num_gpus=1, max_restarts=1).remote()
    pid1 = ray.get(a.info.remote())["pid"]
    with pytest.raises(ActorDiedError, match="restarted"):
        ray.get(a.exit_with.remote(1), timeout=DEADLINE_S)
    pid2 = ray.get(a.info.remote(), timeout=DEADLINE_S)["pid"]
    assert pid2 != pid1
    with pytest.raises(ActorDiedError, match="exit code 2") as info:
        ray.get(a.exit_with.remote(2), timeout=DEADLINE_S)
    assert "restarted" not in str(info.value)  # no restart left: dead, not restarted
    with pytest.raises(ActorDiedError, match=str(pid2)):
        ray.get(a.info.remote(), timeout=DEADLINE_S)
    wait_for(lambda: gpus_free() == 4, "the dead actor's GPU to come back")


# -- scheduling ----------------------------------------------------------------------------
def test_too_many_gpus_is_unschedulable(gr):
    """An actor asking for 8 GPUs on a 4-GPU node raises ActorUnschedulableError at .remote()."""
    with pytest.raises(ActorUnschedulableError, match="GPU") as info:
        Fragile.options(num_gpus=8).remote()
    assert isinstance(info.value, ValueError)
    assert "8" in str(info.value) and "4" in str(info.value)
    assert gpus_free() == 4


def test_actor_waits_for_resources_held_by_another(gr):
    """An actor whose GPUs are held by another actor stays pending and starts once that one is killed."""
    holder = Fragile.options(num_gpus=4).remote()
    ray.get(holder.info.remote())
    waiter = Fragile.options(num_gpus=1).remote()
    ref = waiter.info.remote()
    ready, _ = ray.wait([ref], timeout=0.5)
    assert ready == []
    ray.kill(holder)
    got = ray.get(ref, timeout=DEADLINE_S)
    assert len(got["gpus"]) == 1 and got["cuda"] == str(got["gpus"][0])
    assert gpus_free() == 3


def test_kill_pending_actor(gr):
    """Killing an actor still waiting for resources fails its calls and never starts it."""
    holder = Fragile.options(num_gpus=4).remote()
    ray.get(holder.info.remote())
    waiter = Fragile.options(num_gpus=1).remote()
    ref = waiter.info.remote()
    ray.kill(waiter)
    with pytest.raises(ActorDiedError, match="kill"):
        ray.get(ref, timeout=DEADLINE_S)
    ray.kill(holder)
    wait_for(lambda: gpus_free() == 4, "all GPUs free, none taken by the killed pending actor")


# -- methods that raise --------------------------------------------------------------------
def test_method_error_keeps_actor_alive(gr):
    """A method's exception re-raises as RayTaskError and the original type; the actor keeps its state."""
    a = Fragile.remote()
    assert ray.get(a.incr.remote()) == 1
    with pytest.raises(KeyError) as info:
        ray.get(a.fail.remote("bad-key-99"))
    assert isinstance(info.value, RayTaskError)
    assert "bad-key-99" in str(info.value)
    assert ray.get(a.incr.remote()) == 2


@ray.remote(max_concurrency=2)
class ThreadedFails:
    def fail(self):
        raise ZeroDivisionError("threaded-zero")

    def ok(self):
        return "ok"


@ray.remote
class AsyncFails:
    async def fail(self):
        raise ZeroDivisionError("async-zero")

    async def ok(self):
        return "ok"


@pytest.mark.parametrize("cls", [ThreadedFails, AsyncFails], ids=["threaded", "async"])
def test_method_error_in_concurrent_actors(gr, cls):
    """Threaded and async actors re-raise a method's error as RayTaskError + its type and keep working."""
    a = cls.remote()
    with pytest.raises(ZeroDivisionError, match="-zero") as info:
        ray.get(a.fail.remote(), timeout=DEADLINE_S)
    assert isinstance(info.value, RayTaskError)
    assert ray.get(a.ok.remote(), timeout=DEADLINE_S) == "ok"


@ray.remote
class AsyncFragile:
    async def pid(self):
        return os.getpid()

    async def crash(self):
        os._exit(4)


def test_async_actor_crash_restarts(gr):
    """An async actor that crashes is restarted in a new process (max_restarts=1)."""
    a = AsyncFragile.options(max_restarts=1).remote()
    pid = ray.get(a.pid.remote())
    with pytest.raises(ActorDiedError, match="exit code 4"):
        ray.get(a.crash.remote(), timeout=DEADLINE_S)
    assert ray.get(a.pid.remote(), timeout=DEADLINE_S) != pid
