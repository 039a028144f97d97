"""greenroom.util.ActorPool through the public API with real actors: ordered and unordered
results, backpressure with has_free/pop_idle/push, timeouts, errors, a crashed actor and a
cancelled call.

Slow calls wait on a Signal (a pending object the test completes), never on a sleep.
"""

from __future__ import annotations

import os

import pytest

import greenroom as ray
from greenroom.exceptions import ActorDiedError, TaskCancelledError
from greenroom.util import ActorPool
from signal_helper import Signal, StartedFlag

DEADLINE_S = 20.0


@ray.remote
class Worker:
    def double(self, v):
        return 2 * v

    def gated(self, v, gate):
        """Wait for ``gate`` (a list holding the Signal's ref) when v == 0."""
        if v == 0:
            ray.get(gate[0], timeout=DEADLINE_S)
        return 2 * v

    def pid(self, _v=None):
        return os.getpid()

    def fail_on(self, v, bad):
        if v == bad:
            raise KeyError(v)
        return v

    def exit_on(self, v, bad):
        if v == bad:
            os._exit(3)
        return v


@ray.remote
def sleeper(flag, gate):
    flag.set()
    ray.get(gate[0], timeout=DEADLINE_S)
    return "finished"


def test_map_is_ordered_and_map_unordered_yields_what_finishes_first(gr):
    """map() keeps submission order behind a slow first value; map_unordered() does not wait for it."""
    pool = ActorPool([Worker.remote(), Worker.remote()])
    assert list(pool.map(lambda a, v: a.double.remote(v), range(8))) == [0, 2, 4, 6, 8, 10, 12, 14]

    gate = Signal()
    results = pool.map_unordered(lambda a, v: a.gated.remote(v, [gate.ref]), [0, 1, 2, 3])
    first_three = [next(results) for _ in range(3)]  # 0 is blocked: the others come first
    assert sorted(first_three) == [2, 4, 6]
    gate.send()
    assert list(results) == [0]

    gate = Signal()
    ordered = pool.map(lambda a, v: a.gated.remote(v, [gate.ref]), [0, 1, 2])
    with pytest.raises(TimeoutError):
        pool.get_next(timeout=0.1)  # the first result, in order, is still blocked
    gate.send()
    assert list(ordered) == [0, 2, 4]


def test_submit_get_next_has_next(gr):
    """submit/get_next/get_next_unordered behave as Ray's; running dry raises StopIteration."""
    pool = ActorPool([Worker.remote(), Worker.remote()])
    assert not pool.has_next()
    with pytest.raises(StopIteration):
        pool.get_next()
    for i in range(5):
        pool.submit(lambda a, v: a.double.remote(v), i)
    assert pool.has_next()
    assert [pool.get_next(timeout=DEADLINE_S) for _ in range(5)] == [0, 2, 4, 6, 8]
    assert not pool.has_next()

    for i in range(4):
        pool.submit(lambda a, v: a.double.remote(v), i)
    assert sorted(pool.get_next_unordered(timeout=DEADLINE_S) for _ in range(4)) == [0, 2, 4, 6]
    with pytest.raises(StopIteration):
        pool.get_next_unordered()


def test_get_next_after_get_next_unordered_is_refused(gr):
    """Once results were taken out of order, get_next() raises ValueError, as in Ray."""
    pool = ActorPool([Worker.remote()])
    pool.submit(lambda a, v: a.double.remote(v), 1)
    pool.submit(lambda a, v: a.double.remote(v), 2)
    pool.get_next_unordered(timeout=DEADLINE_S)
    pool.get_next_unordered(timeout=DEADLINE_S)
    pool.submit(lambda a, v: a.double.remote(v), 3)
    assert pool.get_next(timeout=DEADLINE_S) == 6  # a fresh submission is in order again


def test_backpressure_with_has_free_pop_idle_and_push(gr):
    """has_free/pop_idle/push: a caller feeds the pool only when an actor is free, and may take one out."""
    a, b = Worker.remote(), Worker.remote()
    pool = ActorPool([a])
    assert pool.has_free()
    pool.submit(lambda x, v: x.double.remote(v), 1)
    assert not pool.has_free() and pool.pop_idle() is None
    pool.submit(lambda x, v: x.double.remote(v), 2)  # queued: no actor free
    assert not pool.has_free()
    pool.push(b)  # runs the queued value at once
    assert sorted(
        [pool.get_next_unordered(timeout=DEADLINE_S), pool.get_next_unordered(timeout=DEADLINE_S)]
    ) == [2, 4]
    assert pool.has_free()
    taken = pool.pop_idle()
    assert taken in (a, b)
    with pytest.raises(ValueError, match="already belongs"):
        pool.push(a if taken is b else b)
    pool.push(taken)
    assert sorted(pool.map(lambda x, v: x.double.remote(v), [5, 6])) == [10, 12]

    # a producer that only submits while an actor is free never queues more than the pool can run
    pool = ActorPool([Worker.remote(), Worker.remote()])
    done, values = [], iter(range(10))
    for v in values:
        while not pool.has_free():
            done.append(pool.get_next_unordered(timeout=DEADLINE_S))
        pool.submit(lambda x, v: x.double.remote(v), v)
    while pool.has_next():
        done.append(pool.get_next_unordered(timeout=DEADLINE_S))
    assert sorted(done) == [2 * v for v in range(10)]


def test_ignore_if_timedout_skips_the_slow_result(gr):
    """get_next(timeout, ignore_if_timedout=True) raises TimeoutError and moves past that result."""
    gate = Signal()
    pool = ActorPool([Worker.remote(), Worker.remote()])
    pool.submit(lambda a, v: a.gated.remote(v, [gate.ref]), 0)
    pool.submit(lambda a, v: a.gated.remote(v, [gate.ref]), 5)
    with pytest.raises(TimeoutError, match="has been ignored"):
        pool.get_next(timeout=0.1, ignore_if_timedout=True)
    assert pool.get_next(timeout=DEADLINE_S) == 10
    assert not pool.has_next()
    gate.send()


def test_a_failing_call_raises_and_its_actor_stays(gr):
    """A call that raises re-raises at get_next as its own type; its actor keeps working."""
    pool = ActorPool([Worker.remote()])
    results = pool.map(lambda a, v: a.fail_on.remote(v, 1), [0, 1, 2])
    assert next(results) == 0
    with pytest.raises(KeyError):
        next(results)
    assert pool.get_next(timeout=DEADLINE_S) == 2
    assert pool.has_free()


def test_fn_must_return_a_ref(gr):
    """fn returning something other than an ObjectRef is a TypeError at submit; the actor stays idle."""
    pool = ActorPool([Worker.remote()])
    with pytest.raises(TypeError, match="must return the ObjectRef"):
        pool.submit(lambda a, v: v, 1)
    assert pool.has_free() and not pool.has_next()


def test_a_crashed_actor_leaves_the_pool_and_the_others_finish(gr):
    """An actor that dies mid-map raises ActorDiedError once; the rest run on the live actor."""
    crashing, healthy = Worker.remote(), Worker.remote()
    healthy_pid = ray.get(healthy.pid.remote(), timeout=DEADLINE_S)
    results, errors = [], 0
    pool = ActorPool([healthy, crashing])  # the most recently idle actor (`crashing`) gets value 0
    for v in range(6):
        pool.submit(lambda a, v: a.exit_on.remote(v, 0), v)
    while pool.has_next():
        try:
            results.append(pool.get_next(timeout=DEADLINE_S))
        except ActorDiedError:
            errors += 1
    assert errors == 1 and results == [1, 2, 3, 4, 5]
    assert ray.get(pool.pop_idle().pid.remote(), timeout=DEADLINE_S) == healthy_pid
    assert pool.pop_idle() is None  # the dead actor is gone


def test_every_actor_dead_raises_instead_of_dropping_work(gr):
    """With values queued and no live actor, get_next says so; push() of a live actor runs them."""
    pool = ActorPool([Worker.remote()])
    pool.submit(lambda a, v: a.exit_on.remote(v, 0), 0)
    pool.submit(lambda a, v: a.double.remote(v), 7)  # queued behind the crash
    with pytest.raises(ActorDiedError):
        pool.get_next(timeout=DEADLINE_S)
    assert pool.has_next()
    with pytest.raises(RuntimeError, match="push"):
        pool.get_next(timeout=DEADLINE_S)
    pool.push(Worker.remote())
    assert pool.get_next(timeout=DEADLINE_S) == 14


def test_a_cancelled_call_raises_and_its_actor_returns(gr, tmp_path):
    """A result cancelled with ray.cancel raises TaskCancelledError at get_next; the pool goes on."""
    flag = StartedFlag(tmp_path)
    gate = Signal()
    pool = ActorPool([Worker.remote()])
    # The pool's actor is a token here: fn may return any ObjectRef, a task's too.
    refs = []
    pool.submit(lambda a, v: refs.append(sleeper.remote(flag, [gate.ref])) or refs[-1], None)
    flag.wait(DEADLINE_S)
    ray.cancel(refs[0])
    with pytest.raises(TaskCancelledError):
        pool.get_next(timeout=DEADLINE_S)
    assert pool.has_free()
    assert list(pool.map(lambda a, v: a.double.remote(v), [1, 2])) == [2, 4]
    flag.close()
