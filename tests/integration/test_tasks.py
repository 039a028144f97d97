"""Remote functions, objects, get/wait/put, nesting, output, context: through the public API."""

from __future__ import annotations

import asyncio
import enum
import os
import sys

import pytest

import greenroom as ray
from greenroom.exceptions import GetTimeoutError, ObjectLostError
from signal_helper import Signal


@ray.remote
def add(a, b=0):
    return a + b


@ray.remote
def identity(x):
    return x


@ray.remote
def pid():
    return os.getpid()


@ray.remote(num_returns=3)
def three():
    return 1, 2, 3


@ray.remote
def wait_for(ref_list, timeout=30):
    """Block until the object inside the list is ready: a barrier for tests."""
    return ray.get(ref_list[0], timeout=timeout)


def test_remote_returns_result(gr):
    """A task's return value comes back through get()."""
    assert ray.get(add.remote(1, 2)) == 3
    assert ray.get([add.remote(i, b=i) for i in range(10)]) == [2 * i for i in range(10)]


def test_direct_call_says_to_use_remote(gr):
    """Calling a remote function directly raises and says to call .remote()."""
    with pytest.raises(TypeError, match=r"add\.remote"):
        add(1, 2)


def test_top_level_refs_resolved_nested_refs_stay_refs(gr):
    """Top-level ObjectRef arguments arrive as values; refs inside a list arrive as refs."""

    @ray.remote
    def inspect(a, nested, kw=None):
        return type(a).__name__, type(nested[0]).__name__, type(kw).__name__, ray.get(nested[0])

    r = ray.put(41)
    assert ray.get(inspect.remote(r, [r], kw=add.remote(1))) == ("int", "ObjectRef", "int", 41)


def test_chained_tasks(gr):
    """A task's result ref passed to another task is its value there."""
    ref = add.remote(1, 1)
    for _ in range(5):
        ref = add.remote(ref, 1)
    assert ray.get(ref) == 7


def test_num_returns(gr):
    """num_returns=3 gives three refs; options(num_returns=2) changes it per call."""
    refs = three.remote()
    assert isinstance(refs, list) and ray.get(refs) == [1, 2, 3]

    @ray.remote
    def pair():
        return "a", "b"

    assert ray.get(pair.options(num_returns=2).remote()) == ["a", "b"]


def test_num_returns_mismatch_is_task_error(gr):
    """Returning the wrong number of values fails the task with a ValueError."""

    @ray.remote(num_returns=2)
    def one():
        return 1

    a, b = one.remote()
    with pytest.raises(ValueError, match="num_returns=2"):
        ray.get(a)


class Color(enum.IntEnum):
    RED = 1


@pytest.mark.parametrize(
    "value", [7, 2**70, 1.5, "short", "x" * 5000, True, None, 2 + 3j, Color.RED, b"bytes", (1, "a")]
)
def test_arguments_and_results_keep_their_exact_type(gr, value):
    """Scalars take a faster pickling path; the value and its exact type still arrive unchanged."""
    got = ray.get(identity.remote(value))
    assert got == value and type(got) is type(value)
    got = ray.get(identity.remote(x=value))
    assert got == value and type(got) is type(value)


def test_put_get_roundtrip(gr):
    """put() stores a value that get() and tasks read back."""
    value = {"a": [1, 2, 3], "b": b"x" * 1000}
    ref = ray.put(value)
    assert ray.get(ref) == value
    assert ray.get(identity.remote(ref)) == value


def test_put_refuses_objectref(gr):
    """put() of an ObjectRef is an error that says what to do."""
    with pytest.raises(TypeError, match="ObjectRef"):
        ray.put(ray.put(1))


def test_numpy_roundtrip(gr):
    """numpy arrays survive the trip both ways."""
    np = pytest.importorskip("numpy")
    arr = np.arange(100_000, dtype=np.float64)
    assert ray.get(identity.remote(arr)).sum() == arr.sum()
    assert ray.get(ray.put(arr))[-1] == arr[-1]


def test_get_timeout(gr):
    """get(timeout=) raises GetTimeoutError (also a TimeoutError) when not ready."""
    sig = Signal()
    pending = wait_for.remote([sig.ref])
    with pytest.raises(GetTimeoutError):
        ray.get(pending, timeout=0.2)
    with pytest.raises(TimeoutError):
        ray.get(pending, timeout=0)
    sig.send()
    assert ray.get(pending, timeout=30) == "go"


def test_wait_order_and_counts(gr):
    """wait() returns (ready, not_ready) in input order, ready capped at num_returns."""
    sig = Signal()
    blocked = wait_for.remote([sig.ref])
    fast = [add.remote(i) for i in range(3)]
    ray.get(fast)
    refs = [fast[0], blocked, fast[1], fast[2]]
    ready, not_ready = ray.wait(refs, num_returns=2, timeout=10)
    assert ready == [fast[0], fast[1]] and not_ready == [blocked, fast[2]]
    ready, not_ready = ray.wait(refs, num_returns=4, timeout=0.1)
    assert ready == [fast[0], fast[1], fast[2]] and not_ready == [blocked]
    sig.send()
    ready, not_ready = ray.wait(refs, num_returns=4, timeout=30)
    assert ready == refs and not_ready == []


def test_wait_all_ready_keeps_order_and_cap(gr):
    """wait() on refs that are all ready (its fast path) returns the first num_returns, in input order."""
    refs = [add.remote(i) for i in range(20)]
    ray.get(refs)
    shuffled = refs[7:] + refs[:7]
    assert ray.wait(shuffled, num_returns=20) == (shuffled, [])
    assert ray.wait(shuffled, num_returns=3, timeout=0) == (shuffled[:3], shuffled[3:])
    assert ray.wait(tuple(shuffled), num_returns=1) == (shuffled[:1], shuffled[1:])


def test_get_of_one_pending_ref_twice(gr):
    """get([r, r]) on a ref not ready yet returns both once it is ready (it timed out before)."""
    sig = Signal()
    pending = wait_for.remote([sig.ref])
    with pytest.raises(GetTimeoutError):
        ray.get([pending, pending], timeout=0.1)
    sig.send()
    assert ray.get([pending, pending], timeout=30) == ["go", "go"]


def test_wait_bad_arguments(gr):
    """wait() rejects a single ref, duplicates, and num_returns above the count."""
    r = ray.put(1)
    with pytest.raises(TypeError):
        ray.wait(r)
    with pytest.raises(ValueError, match="twice"):
        ray.wait([r, r])
    with pytest.raises(ValueError, match="twice"):
        ray.wait([r, ray.ObjectRef(r.binary())])
    with pytest.raises(ValueError, match="ObjectRef"):
        ray.wait([r, 42])
    with pytest.raises(ValueError, match="num_returns"):
        ray.wait([r], num_returns=2)
    with pytest.raises(ValueError, match="ObjectRef"):
        ray.get(42)


def test_nested_tasks_on_full_pool(gr):
    """Tasks that submit and get() subtasks finish even when they fill every CPU."""

    @ray.remote
    def leaf(i):
        return i

    @ray.remote
    def parent(n):
        return sum(ray.get([leaf.remote(i) for i in range(n)]))

    @ray.remote
    def grandparent():
        return ray.get([parent.remote(5) for _ in range(3)])

    # 4 parents on 2 CPUs: each blocks in get() and lends its CPU to the leaves.
    assert ray.get([parent.remote(10) for _ in range(4)], timeout=30) == [45] * 4
    assert ray.get(grandparent.remote(), timeout=30) == [10, 10, 10]


def test_nested_put_and_wait(gr):
    """put() and wait() work inside a task."""

    @ray.remote
    def inner():
        r = ray.put([1, 2])
        ready, _ = ray.wait([add.remote(1)], timeout=10)
        return ray.get(r) + ray.get(ready)

    assert ray.get(inner.remote()) == [1, 2, 1]


def test_worker_reuse(gr):
    """CPU tasks reuse warm workers instead of starting a process per task."""
    pids = {ray.get(pid.remote()) for _ in range(20)}
    assert len(pids) <= 2


def test_max_calls_recycles_worker(gr):
    """max_calls=1 gives each call a fresh worker process."""
    once = pid.options(max_calls=1)
    pids = [ray.get(once.remote()) for _ in range(3)]
    assert len(set(pids)) == 3


async def test_await_ref(gr):
    """An ObjectRef is awaitable in async code."""
    assert await add.remote(2, 3) == 5
    results = await asyncio.gather(*[add.remote(i) for i in range(5)])
    assert results == [0, 1, 2, 3, 4]


def test_ref_future(gr):
    """ref.future() is a concurrent.futures.Future with the value."""
    assert add.remote(4, 4).future().result(timeout=30) == 8


def test_async_remote_function(gr):
    """An async def remote function runs to completion in its worker."""

    @ray.remote
    async def coro(x):
        await asyncio.sleep(0)
        return x * 2

    assert ray.get(coro.remote(21)) == 42


def test_output_reaches_driver_with_pid(gr, capfd):
    """What a task prints reaches the driver's stdout/stderr, prefixed with its pid."""

    @ray.remote
    def talk():
        print("hello from the task")
        print("to stderr", file=sys.stderr)
        return os.getpid()

    worker_pid = ray.get(talk.remote())
    out, err = capfd.readouterr()
    assert f"(pid={worker_pid}) hello from the task" in out
    assert f"(pid={worker_pid}) to stderr" in err


def test_runtime_context(gr):
    """get_runtime_context() gives task id and assigned resources inside a task."""

    @ray.remote(num_cpus=0.5)
    def ctx():
        c = ray.get_runtime_context()
        return c.get_task_id(), c.get_assigned_resources(), c.get_job_id()

    ref = ctx.remote()
    task_id, assigned, job = ray.get(ref)
    assert task_id == ref.task_id()
    assert assigned == {"CPU": 0.5}
    assert job == ray.get_runtime_context().get_job_id()
    assert ray.get_runtime_context().get_task_id() is None


def test_module_functions_travel_by_reference(gr):
    """Functions from importable modules unpickle in workers (the driver's sys.path)."""
    import json

    @ray.remote
    def use(fn, x):
        return fn(x)

    assert ray.get(use.remote(json.dumps, [1])) == "[1]"
    assert ray.get(use.remote(_module_level_helper, 3)) == 9


def _module_level_helper(x):
    return x * x


def test_get_of_unknown_ref_fails_fast(gr):
    """A ref this node never made raises ObjectLostError instead of hanging."""
    with pytest.raises(ObjectLostError):
        ray.get(ray.ObjectRef(b"\x01" * 16), timeout=5)


def test_unknown_ref_among_others_fails_fast(gr):
    """An unknown ref among ready and pending ones fails get() and wait() at once, whatever their fast path."""
    sig = Signal()
    pending = wait_for.remote([sig.ref])
    ready = [add.remote(i) for i in range(3)]
    ray.get(ready)
    unknown = ray.ObjectRef(b"\x02" * 16)
    for refs in ([unknown], [*ready, unknown], [pending, unknown], [unknown, *ready, pending]):
        with pytest.raises(ObjectLostError):
            ray.get(refs, timeout=30)
        with pytest.raises(ObjectLostError):
            ray.wait(refs, num_returns=len(refs), timeout=30)
    with pytest.raises(ObjectLostError):
        ray.wait([*ready, unknown], num_returns=1, timeout=30)
    sig.send()
    assert ray.get(pending, timeout=30) == "go"


def test_shutdown_fails_pending_gets_and_allows_reinit():
    """shutdown() ends the node; init() after it starts a fresh one."""
    ray.init(num_cpus=1)
    assert ray.is_initialized()
    ray.shutdown()
    assert not ray.is_initialized()
    ray.init(num_cpus=1)
    assert ray.get(add.remote(1, 1)) == 2
    ray.shutdown()
