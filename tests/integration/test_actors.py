"""Actors through the public API with real worker processes: Ray's semantics.

Calls that must run at the same time meet at a barrier inside the actor (a
``threading.Barrier`` or an asyncio counter + event, each with a deadline), so a
test fails, rather than hangs, when calls do not overlap. Calls that must stay
in flight until the test says so wait on a ``Signal``.
"""

from __future__ import annotations

import asyncio
import gc
import os
import threading

import pytest

import greenroom as ray
from greenroom.actor import ActorHandle, exit_actor
from greenroom.exceptions import ActorAlreadyExistsError, ActorDiedError, RayActorError
from helpers import wait_for
from signal_helper import Signal

DEADLINE_S = 20.0


def gpus_free() -> float:
    return ray.available_resources().get("GPU", 0.0)


def gpus() -> float:
    """All GPUs: 4 pretend ones on the test node (conftest.gr), 2 on the Ray backend's head."""
    return ray.cluster_resources().get("GPU", 0.0)


def cpus_free() -> float:
    return ray.available_resources().get("CPU", 0.0)


@ray.remote
class Counter:
    def __init__(self, start=0):
        self.n = start

    def incr(self, by=1):
        self.n += by
        return self.n

    def value(self):
        return self.n

    def pid(self):
        return os.getpid()

    @ray.method(num_returns=2)
    def pair(self):
        return self.n, self.n + 1

    def two(self):
        return "a", "b"

    def wait_on(self, ref_list):
        return ray.get(ref_list[0], timeout=DEADLINE_S)

    def bye(self):
        exit_actor()


@ray.remote
class Log:
    def __init__(self):
        self.items = []

    def append(self, x):
        self.items.append(x)
        return len(self.items)

    def get_items(self):
        return self.items


@ray.remote
class Probe:
    def __init__(self):
        self.at_init = (ray.get_gpu_ids(), os.environ.get("CUDA_VISIBLE_DEVICES"))

    def probe(self):
        return {
            "init": self.at_init,
            "now": (ray.get_gpu_ids(), os.environ.get("CUDA_VISIBLE_DEVICES")),
            "pid": os.getpid(),
        }


# -- classes, handles, methods -------------------------------------------------------------
def test_remote_class_gives_handle_and_refs(gr):
    """Cls.remote(*args) returns a handle; handle.method.remote() returns an ObjectRef."""
    c = Counter.remote(5)
    assert isinstance(c, ActorHandle)
    ref = c.incr.remote()
    assert isinstance(ref, ray.ObjectRef)
    assert ray.get(ref) == 6
    assert ray.get(c.incr.remote(by=4)) == 10
    assert ray.get(c.value.remote()) == 10


def test_method_decorator_num_returns(gr):
    """@ray.method(num_returns=2) makes .remote() return two refs."""
    c = Counter.remote(3)
    a, b = c.pair.remote()
    assert isinstance(a, ray.ObjectRef) and isinstance(b, ray.ObjectRef)
    assert ray.get([a, b]) == [3, 4]


def test_method_options_num_returns(gr):
    """handle.method.options(num_returns=2).remote() returns two refs."""
    c = Counter.remote()
    single = c.two.remote()
    assert ray.get(single) == ("a", "b")
    a, b = c.two.options(num_returns=2).remote()
    assert ray.get(a) == "a" and ray.get(b) == "b"


def test_direct_method_call_says_to_use_remote(gr):
    """Calling handle.method() directly raises TypeError that points at .remote()."""
    c = Counter.remote()
    with pytest.raises(TypeError, match=r"\.incr\.remote"):
        c.incr()


def test_direct_instantiation_says_to_use_remote(gr):
    """Calling the actor class directly raises TypeError that points at .remote()."""
    with pytest.raises(TypeError, match=r"Counter\.remote"):
        Counter()


def test_unknown_method_lists_methods(gr):
    """An unknown method name raises AttributeError naming the methods there are."""
    c = Counter.remote()
    with pytest.raises(AttributeError, match="incr") as info:
        c.nope.remote()
    assert "nope" in str(info.value) and "value" in str(info.value)


# -- processes, GPUs, resources -------------------------------------------------------------
def test_each_actor_has_its_own_process(gr):
    """Two actors run in two processes, neither of them the driver."""
    a, b = Counter.remote(), Counter.remote()
    pa, pb = ray.get([a.pid.remote(), b.pid.remote()])
    assert pa != pb
    assert os.getpid() not in (pa, pb)
    assert ray.get(a.pid.remote()) == pa  # the same process for the actor's life


def test_gpu_actor_sees_its_ids_for_its_whole_life(gr):
    """A 2-GPU actor has CUDA_VISIBLE_DEVICES = its ids from construction on, and get_gpu_ids() agrees."""
    a = Probe.options(num_gpus=2).remote()
    first = ray.get(a.probe.remote())
    ids, env = first["init"]
    assert len(ids) == 2 and len(set(ids)) == 2 and set(ids) <= {0, 1, 2, 3}
    assert env == ",".join(map(str, ids))
    assert first["now"] == (ids, env)
    ray.get(Counter.remote().incr.remote())  # other work in between changes nothing
    assert ray.get(a.probe.remote())["now"] == (ids, env)


def test_no_gpu_actor_sees_empty_cuda_visible_devices(gr):
    """An actor without GPUs sees CUDA_VISIBLE_DEVICES="" and no GPU ids."""
    a = Probe.remote()
    got = ray.get(a.probe.remote())
    assert got["init"] == ([], "")
    assert got["now"] == ([], "")


def test_gpu_lease_held_for_lifetime_and_returned_on_kill(gr):
    """A 1-GPU actor holds its GPU while alive (also when idle) and gives it back when killed."""
    assert gpus_free() == gpus()
    a = Probe.options(num_gpus=1).remote()
    ids = ray.get(a.probe.remote())["now"][0]
    assert len(ids) == 1
    assert gpus_free() == gpus() - 1  # idle between calls, still held
    # a 4-GPU task cannot run while the actor holds one
    @ray.remote
    def all_gpus():
        return ray.get_gpu_ids()

    blocked = all_gpus.options(num_gpus=int(gpus())).remote()
    ready, _ = ray.wait([blocked], timeout=0.3)
    assert ready == []
    ray.kill(a)
    assert sorted(ray.get(blocked, timeout=DEADLINE_S)) == list(range(int(gpus())))  # it got the actor's GPU
    wait_for(lambda: gpus_free() == gpus(), "all GPUs free")


def test_half_gpu_actors_share_one_gpu(gr):
    """Two 0.5-GPU actors get the same single GPU id; one GPU is in use in all."""
    a = Probe.options(num_gpus=0.5).remote()
    b = Probe.options(num_gpus=0.5).remote()
    ga, gb = ray.get([a.probe.remote(), b.probe.remote()])
    assert ga["pid"] != gb["pid"]
    assert len(ga["now"][0]) == 1
    assert ga["now"][0] == gb["now"][0]
    assert ga["now"][1] == gb["now"][1] == str(ga["now"][0][0])
    assert gpus_free() == gpus() - 1


def test_actors_without_resources_hold_no_cpu(gr):
    """Ten default actors live at once on 2 CPUs and hold none of them."""
    actors = [Counter.remote(i) for i in range(10)]
    pids = ray.get([a.pid.remote() for a in actors], timeout=DEADLINE_S)
    assert len(set(pids)) == 10
    assert cpus_free() == 2
    assert ray.get([a.value.remote() for a in actors]) == list(range(10))


def test_actor_with_num_cpus_holds_it(gr):
    """An actor with num_cpus=1 holds one CPU for its life."""
    a = Counter.options(num_cpus=1).remote()
    ray.get(a.pid.remote())
    assert cpus_free() == 1
    ray.kill(a)
    wait_for(lambda: cpus_free() == 2, "the CPU to come back")


# -- ordering --------------------------------------------------------------------------------
def test_thousand_calls_run_in_submission_order(gr):
    """1,000 calls from the driver run in the order they were submitted."""
    log = Log.remote()
    refs = [log.append.remote(i) for i in range(1000)]
    assert ray.get(refs, timeout=DEADLINE_S) == list(range(1, 1001))
    assert ray.get(log.get_items.remote()) == list(range(1000))


@ray.remote
def boom(text):
    raise ValueError(text)


def test_call_with_failed_ref_arg_fails_and_order_holds(gr):
    """A call whose ObjectRef argument failed raises that error; the calls around it still run in order."""
    log = Log.remote()
    refs = [log.append.remote(0), log.append.remote(boom.remote("arg-failed-17")), log.append.remote(1)]
    assert ray.get(refs[0]) == 1
    with pytest.raises(ValueError, match="arg-failed-17"):
        ray.get(refs[1], timeout=DEADLINE_S)
    assert ray.get(refs[2]) == 2
    assert ray.get(log.get_items.remote()) == [0, 1]


def test_constructor_waits_for_ref_args(gr):
    """A constructor's ObjectRef argument is resolved first; calls wait for the constructor."""
    sig = Signal()
    c = Counter.remote(sig.ref)
    ref = c.incr.remote()
    ready, _ = ray.wait([ref], timeout=0.2)
    assert ready == []
    sig.send(10)
    assert ray.get(ref, timeout=DEADLINE_S) == 11


def test_calls_with_pending_ref_args_stay_in_order(gr):
    """A call whose ObjectRef argument is not ready holds back the calls after it."""
    log = Log.remote()
    sig = Signal()
    first = log.append.remote(0)
    blocked = log.append.remote(sig.ref)
    later = [log.append.remote(ray.put(i)) if i % 2 else log.append.remote(i) for i in range(2, 20)]
    assert ray.get(first) == 1
    ready, _ = ray.wait([blocked] + later, num_returns=1, timeout=0.3)
    assert ready == []
    sig.send(1)
    ray.get(later, timeout=DEADLINE_S)
    assert ray.get(log.get_items.remote()) == list(range(20))


# -- concurrency -----------------------------------------------------------------------------
@ray.remote(max_concurrency=4)
class ThreadedMeet:
    def __init__(self):
        self.barrier = threading.Barrier(4, timeout=DEADLINE_S)

    def meet(self):
        return self.barrier.wait()  # BrokenBarrierError unless 4 calls run at once


@ray.remote
class AsyncMeet:
    def __init__(self):
        self.count = {}
        self.events = {}

    async def meet(self, key, parties, timeout=DEADLINE_S):
        """Returns once ``parties`` calls with ``key`` are inside at the same time."""
        event = self.events.setdefault(key, asyncio.Event())
        self.count[key] = self.count.get(key, 0) + 1
        if self.count[key] >= parties:
            event.set()
        await asyncio.wait_for(event.wait(), timeout)
        return self.count[key]


def test_threaded_actor_runs_calls_concurrently(gr):
    """A sync actor with max_concurrency=4 runs 4 calls at once (they meet at a barrier of 4)."""
    a = ThreadedMeet.remote()
    assert sorted(ray.get([a.meet.remote() for _ in range(4)], timeout=DEADLINE_S)) == [0, 1, 2, 3]


def test_async_actor_runs_calls_concurrently(gr):
    """An async actor runs 10 calls at once (they meet at a barrier of 10)."""
    a = AsyncMeet.remote()
    assert ray.get([a.meet.remote("k", 10) for _ in range(10)], timeout=DEADLINE_S) == [10] * 10


def test_async_actor_honours_max_concurrency(gr):
    """With max_concurrency=2 a barrier of 3 never releases, a barrier of 2 does."""
    a = AsyncMeet.options(max_concurrency=2).remote()
    stuck = [a.meet.remote("three", 3) for _ in range(3)]
    ready, _ = ray.wait(stuck, num_returns=1, timeout=1.0)
    assert ready == []
    ray.kill(a)
    b = AsyncMeet.options(max_concurrency=2).remote()
    assert ray.get([b.meet.remote("two", 2) for _ in range(2)], timeout=DEADLINE_S) == [2, 2]


# -- handles elsewhere ------------------------------------------------------------------------
@ray.remote
def call_from_task(handle, by):
    return ray.get(handle.incr.remote(by))


@ray.remote
class Caller:
    def __init__(self, handle):
        self.handle = handle

    def call(self, by):
        return ray.get(self.handle.incr.remote(by))

    def call_given(self, handle):
        return ray.get(handle.value.remote())


@ray.remote
class AsyncCaller:
    async def relay(self, handle, by):
        return await handle.incr.remote(by)


def test_handle_passed_to_task(gr):
    """A task that gets a handle calls the same actor."""
    c = Counter.remote()
    assert ray.get(call_from_task.remote(c, 5)) == 5
    assert ray.get(c.value.remote()) == 5


def test_handle_passed_to_actor(gr):
    """An actor that gets a handle (constructor or method argument) calls the same actor."""
    c = Counter.remote()
    caller = Caller.remote(c)
    assert ray.get(caller.call.remote(3)) == 3
    assert ray.get(caller.call.remote(4)) == 7
    assert ray.get(Caller.remote(None).call_given.remote(c)) == 7
    assert ray.get(c.value.remote()) == 7


def _caller_of_unreferenced_gpu_actor() -> ActorHandle:
    return Caller.remote(Counter.options(num_gpus=1).remote())


def test_handle_held_only_by_another_actor_keeps_actor_alive(gr):
    """An actor whose only handle lives in another actor stays alive; it ends when that one does."""
    caller = _caller_of_unreferenced_gpu_actor()
    gc.collect()
    assert ray.get(caller.call.remote(1), timeout=DEADLINE_S) == 1
    assert ray.get(caller.call.remote(1), timeout=DEADLINE_S) == 2
    assert gpus_free() == gpus() - 1
    del caller
    gc.collect()
    wait_for(lambda: gpus_free() == gpus(), "the GPU of the no longer referenced actor to come back")


@ray.remote
def call_after(signal_list, handle_list):
    ray.get(signal_list[0], timeout=DEADLINE_S)
    return ray.get(handle_list[0].incr.remote(5))


def _task_with_only_handle(sig: Signal) -> ray.ObjectRef:
    return call_after.remote([sig.ref], [Counter.options(num_gpus=1).remote()])


def test_handle_held_only_by_pending_task_keeps_actor_alive(gr):
    """An actor whose only handle is in a waiting task's arguments lives until that task used it."""
    sig = Signal()
    ref = _task_with_only_handle(sig)
    gc.collect()
    ready, _ = ray.wait([ref], timeout=0.2)
    assert ready == []
    sig.send()
    assert ray.get(ref, timeout=DEADLINE_S) == 5
    wait_for(lambda: gpus_free() == gpus(), "the GPU of the no longer referenced actor to come back")


@ray.remote
def lookup_and_call(name):
    return ray.get(ray.get_actor(name).incr.remote())


def test_get_actor_inside_a_task(gr):
    """A task finds a named actor of the job's namespace with get_actor()."""
    c = Counter.options(name="shared").remote(7)
    assert ray.get(lookup_and_call.remote("shared"), timeout=DEADLINE_S) == 8
    assert ray.get(c.value.remote()) == 8


async def test_await_actor_call_in_async_driver(gr):
    """``await handle.method.remote()`` works in async driver code."""
    c = Counter.remote()
    assert await c.incr.remote() == 1
    results = await asyncio.gather(*[c.incr.remote() for _ in range(5)])
    assert results == [2, 3, 4, 5, 6]


def test_async_actor_awaits_another_actor(gr):
    """An async actor method awaits a call on another actor."""
    c = Counter.remote()
    relay = AsyncCaller.remote()
    assert ray.get(relay.relay.remote(c, 2), timeout=DEADLINE_S) == 2
    assert ray.get([relay.relay.remote(c, 1) for _ in range(3)], timeout=DEADLINE_S) == [3, 4, 5]


# -- named actors ----------------------------------------------------------------------------
def test_named_actor_lookup(gr):
    """options(name=...) registers the actor; get_actor() returns a handle to the same one."""
    a = Counter.options(name="counter").remote()
    ray.get(a.incr.remote())
    b = ray.get_actor("counter")
    assert b == a
    assert ray.get(b.incr.remote()) == 2


def test_duplicate_name_raises(gr):
    """A second actor with a taken name raises ActorAlreadyExistsError (a ValueError)."""
    a = Counter.options(name="dup").remote()
    ray.get(a.incr.remote())
    with pytest.raises(ActorAlreadyExistsError, match="dup") as info:
        Counter.options(name="dup").remote()
    assert isinstance(info.value, ValueError)
    assert ray.get(a.value.remote()) == 1  # the first is untouched


def test_get_if_exists_returns_existing(gr):
    """get_if_exists=True returns the live actor of that name instead of a new one."""
    a = Counter.options(name="once").remote(10)
    b = Counter.options(name="once", get_if_exists=True).remote(99)
    assert b == a
    assert ray.get(b.incr.remote()) == 11
    c = Counter.options(name="fresh", get_if_exists=True).remote(7)  # none yet: creates it
    assert ray.get(c.value.remote()) == 7


def test_get_actor_unknown_name_raises(gr):
    """get_actor() of a name nobody registered raises ValueError naming it."""
    with pytest.raises(ValueError, match="no-such-actor"):
        ray.get_actor("no-such-actor")


def test_killed_named_actor_frees_its_name(gr):
    """After kill(), the name can be used again and get_actor finds the new actor."""
    a = Counter.options(name="reuse").remote(1)
    ray.get(a.value.remote())
    ray.kill(a)
    with pytest.raises(ValueError):
        ray.get_actor("reuse")
    b = Counter.options(name="reuse").remote(2)
    assert ray.get(ray.get_actor("reuse").value.remote()) == 2
    assert b != a


def test_namespaces_separate_names(gr):
    """The same name in two namespaces is two actors; get_actor picks by namespace."""
    a = Counter.options(name="x", namespace="ns1").remote(1)
    b = Counter.options(name="x", namespace="ns2").remote(2)
    assert ray.get(ray.get_actor("x", namespace="ns1").value.remote()) == 1
    assert ray.get(ray.get_actor("x", namespace="ns2").value.remote()) == 2
    assert ray.get_actor("x", namespace="ns1") == a and ray.get_actor("x", namespace="ns2") == b
    with pytest.raises(ValueError):
        ray.get_actor("x")  # not in the job's own namespace
    with pytest.raises(ActorAlreadyExistsError):
        Counter.options(name="x", namespace="ns1").remote()


# -- ending actors ---------------------------------------------------------------------------
def test_kill_fails_calls_in_flight_and_later(gr):
    """kill() ends the actor: the call running in it and later calls raise ActorDiedError."""
    c = Counter.remote()
    sig = Signal()
    ray.get(c.incr.remote())
    running = c.wait_on.remote([sig.ref])
    ready, _ = ray.wait([running], timeout=0.2)
    assert ready == []
    ray.kill(c)
    with pytest.raises(ActorDiedError, match="Counter"):
        ray.get(running, timeout=DEADLINE_S)
    with pytest.raises(RayActorError, match="Counter"):
        ray.get(c.incr.remote(), timeout=DEADLINE_S)
    sig.send()


@ray.remote(max_concurrency=2)
class ThreadedExit:
    def ping(self):
        return "pong"

    def bye(self):
        exit_actor()


@ray.remote
class AsyncExit:
    async def ping(self):
        return "pong"

    async def bye(self):
        exit_actor()


@pytest.mark.parametrize("cls", [Counter, ThreadedExit, AsyncExit], ids=["sync", "threaded", "async"])
def test_exit_actor_ends_it(gr, cls):
    """exit_actor() in a method ends the actor (not restarted); later calls raise ActorDiedError."""
    a = cls.options(num_gpus=1, max_restarts=1).remote()
    ray.get(a.pid.remote() if cls is Counter else a.ping.remote())
    assert gpus_free() == gpus() - 1
    with pytest.raises(RayActorError):
        ray.get(a.bye.remote(), timeout=DEADLINE_S)
    with pytest.raises(ActorDiedError, match="exit_actor"):
        ray.get(a.bye.remote() if cls is Counter else a.ping.remote(), timeout=DEADLINE_S)
    wait_for(lambda: gpus_free() == gpus(), "the GPU of the exited actor to come back")


def _make_gpu_actor_and_forget() -> None:
    a = Probe.options(num_gpus=1).remote()
    ray.get(a.probe.remote())


def _make_gpu_actor_and_call() -> ray.ObjectRef:
    a = Counter.options(num_gpus=1).remote(41)
    return a.incr.remote()


def test_actor_without_handles_is_ended(gr):
    """An actor whose last handle is gone is terminated and its GPU given back."""
    _make_gpu_actor_and_forget()
    gc.collect()
    wait_for(lambda: gpus_free() == gpus(), "the GPU of the unreferenced actor to come back")


def test_actor_without_handles_finishes_pending_calls(gr):
    """A call submitted before the last handle went away still returns; then the actor ends."""
    ref = _make_gpu_actor_and_call()
    gc.collect()
    assert ray.get(ref, timeout=DEADLINE_S) == 42
    wait_for(lambda: gpus_free() == gpus(), "the GPU of the unreferenced actor to come back")
