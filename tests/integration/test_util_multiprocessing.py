"""greenroom.util.multiprocessing.Pool with real actors, checked against the standard library.

Each call runs on greenroom's Pool and on the standard library's pool
implementation (``multiprocessing.pool.ThreadPool``: the same code as
``multiprocessing.Pool`` with threads, so no extra processes) and must give the
same results, or raise the same exception type with the same arguments. Then the
lifecycle (close/join/terminate, the context manager), initializer,
maxtasksperchild, callbacks, a worker that crashes and a pool terminated while a
call waits.
"""

from __future__ import annotations

import multiprocessing
import multiprocessing.pool
import os
import pickle

import pytest

import greenroom as ray
from greenroom.exceptions import RayActorError
from greenroom.util.multiprocessing import Pool
from signal_helper import Signal

DEADLINE_S = 20.0
_initialized: list = []


def square(x):
    return x * x


def add(a, b=0):
    return a + b


def fail_on_three(x):
    if x == 3:
        raise KeyError(x)
    return x


def exit_on_three(x):
    if x == 3:
        os._exit(9)
    return x


def pid(_x=None):
    return os.getpid()


def remember(tag):
    _initialized.append(tag)


def initialized(_x=None):
    return list(_initialized)


def wait_for_gate(gate):
    return ray.get(gate[0], timeout=DEADLINE_S)


def _outcome(call):
    try:
        return ("ok", call())
    except Exception as e:
        return ("error", type(e), e.args)


def _drain(iterator, n):
    """The outcomes of ``n`` next() calls: iteration goes on past an error."""
    return [_outcome(iterator.__next__) for _ in range(n)]


CASES = {
    "map": lambda p: p.map(square, range(20)),
    "map_chunksize": lambda p: p.map(square, range(20), chunksize=3),
    "map_generator": lambda p: p.map(square, (i for i in range(7))),
    "map_empty": lambda p: p.map(square, []),
    "map_error": lambda p: p.map(fail_on_three, range(8)),
    "starmap": lambda p: p.starmap(add, [(1, 2), (3, 4), (5, 6)]),
    "imap": lambda p: list(p.imap(square, range(15))),
    "imap_chunksize": lambda p: list(p.imap(square, iter(range(15)), chunksize=4)),
    "imap_unordered": lambda p: sorted(p.imap_unordered(square, range(15), chunksize=2)),
    "imap_error_in_place": lambda p: _drain(p.imap(fail_on_three, range(5)), 5),
    "apply": lambda p: p.apply(add, (1,), {"b": 41}),
    "apply_error": lambda p: p.apply(fail_on_three, (3,)),
    "apply_async": lambda p: p.apply_async(square, (9,)).get(DEADLINE_S),
    "map_async": lambda p: p.map_async(square, range(10)).get(DEADLINE_S),
    "starmap_async": lambda p: p.starmap_async(add, [(1, 1), (2, 2)]).get(DEADLINE_S),
    "successful": lambda p: [(r.wait(DEADLINE_S), r.ready(), r.successful()) for r in
                             [p.map_async(square, [1]), p.apply_async(fail_on_three, (3,))]],
    "bad_chunksize": lambda p: list(p.imap(square, [1], chunksize=0)),
}  # fmt: skip


@pytest.fixture(scope="module")
def stdlib_results():
    """What the standard library's pool gives for each case."""
    with multiprocessing.pool.ThreadPool(2) as pool:
        return {name: _outcome(lambda case=case: case(pool)) for name, case in CASES.items()}


@pytest.mark.parametrize("name", sorted(CASES))
def test_same_results_as_the_standard_library(gr, stdlib_results, name):
    """Each call gives what multiprocessing's pool gives: the value, or the same exception."""
    with Pool(2) as pool:
        assert _outcome(lambda: CASES[name](pool)) == stdlib_results[name]


def test_errors_keep_the_remote_traceback(gr):
    """A call's exception is raised as itself, its remote traceback as __cause__, as multiprocessing does."""
    with Pool(2) as pool:
        with pytest.raises(KeyError) as info:
            pool.map(fail_on_three, range(6))
    assert isinstance(info.value.__cause__, multiprocessing.pool.RemoteTraceback)
    assert "fail_on_three" in str(info.value.__cause__)


def test_one_actor_per_process_and_initializer(gr):
    """processes= actors, each a process of its own, each initialized once with initargs."""
    with Pool(processes=2, initializer=remember, initargs=("init",)) as pool:
        pids = set(pool.map(pid, range(40), chunksize=1))
        assert len(pids) == 2 and os.getpid() not in pids
        assert pool.map(initialized, range(4), chunksize=1) == [["init"]] * 4
    with Pool() as pool:  # the default: one per CPU
        assert len(set(pool.map(pid, range(40), chunksize=1))) == 2


def test_bad_arguments(gr):
    """processes outside 1..CPUs, a non-callable initializer, a raising initializer: clear errors."""
    with pytest.raises(ValueError, match="at least 1"):
        Pool(0)
    with pytest.raises(ValueError, match="only 2 CPUs"):
        Pool(3)
    with pytest.raises(TypeError, match="callable"):
        Pool(1, initializer=42)
    with pytest.raises(RayActorError, match="KeyError"):
        Pool(1, initializer=fail_on_three, initargs=(3,))
    with pytest.raises(NotImplementedError):
        with Pool(1) as pool:
            pickle.dumps(pool)


def test_close_join_and_the_closed_pool(gr):
    """close() lets submitted work (imap included) finish; join() waits; a closed pool refuses work."""
    pool = Pool(2)
    pending = pool.map_async(square, range(10))
    lazy = pool.imap(square, range(30))
    with pytest.raises(ValueError, match="still running"):
        pool.join()
    pool.close()
    with pytest.raises(ValueError, match="Pool not running"):
        pool.map(square, [1])
    with pytest.raises(ValueError, match="Pool not running"):
        pool.apply_async(square, (1,))
    pool.join()
    assert pending.ready() and pending.get() == [i * i for i in range(10)]
    assert list(lazy) == [i * i for i in range(30)]


def test_context_manager_terminates(gr):
    """Leaving the with block terminates the pool, as multiprocessing does."""
    with Pool(2) as pool:
        assert pool.apply(square, (3,)) == 9
    with pytest.raises(ValueError, match="Pool not running"):
        pool.apply(square, (3,))
    pool.join()


def test_maxtasksperchild_replaces_actors(gr):
    """maxtasksperchild=1: every chunk runs in a fresh actor process."""
    pool = Pool(2, maxtasksperchild=1)
    pids = pool.map(pid, range(6), chunksize=1)
    assert len(set(pids)) == 6
    pool.close()
    pool.join()


def test_callbacks(gr):
    """callback gets the result (a list for map_async), error_callback the exception; before ready()."""
    got, errors = [], []
    with Pool(2) as pool:
        r1 = pool.apply_async(square, (4,), callback=got.append)
        r2 = pool.map_async(square, range(4), callback=got.append)
        r3 = pool.map_async(fail_on_three, range(6), callback=got.append, error_callback=errors.append)
        for r in (r1, r2, r3):
            r.wait(DEADLINE_S)
            assert r.ready()
        assert sorted(got, key=str) == sorted([16, [0, 1, 4, 9]], key=str)
        assert len(errors) == 1 and isinstance(errors[0], KeyError)
        assert not r3.successful()


def test_timeouts(gr):
    """get(timeout) raises multiprocessing.TimeoutError; successful() before ready() is a ValueError."""
    gate = Signal()
    with Pool(1) as pool:
        slow = pool.apply_async(wait_for_gate, ([gate.ref],))
        with pytest.raises(multiprocessing.TimeoutError):
            slow.get(timeout=0.1)
        assert not slow.ready()
        with pytest.raises(ValueError, match="not ready"):
            slow.successful()
        it = pool.imap(wait_for_gate, [[gate.ref]])
        with pytest.raises(multiprocessing.TimeoutError):
            it.next(timeout=0.1)
        gate.send("open")
        assert slow.get(DEADLINE_S) == "open" and it.next(DEADLINE_S) == "open"


def test_a_crashed_worker_fails_its_calls_and_is_replaced(gr):
    """A worker that dies (os._exit) fails the chunks it held with ActorDiedError (multiprocessing
    would hang); the pool replaces it and goes on."""
    with Pool(2) as pool:
        with pytest.raises(RayActorError):
            pool.map(exit_on_three, range(8), chunksize=1)
        assert pool.map(square, range(10)) == [i * i for i in range(10)]
        outcomes = _drain(pool.imap(exit_on_three, range(8)), 8)
        assert outcomes[3][0] == "error" and issubclass(outcomes[3][1], RayActorError)
        for i, outcome in enumerate(outcomes):  # done elsewhere, or held by the worker that died
            assert outcome == ("ok", i) or issubclass(outcome[1], RayActorError)
        assert sum(outcome[0] == "ok" for outcome in outcomes) >= 4  # the other worker's share at least
        assert pool.map(square, range(10)) == [i * i for i in range(10)]


def test_terminate_fails_a_waiting_call(gr):
    """terminate() while a call runs: its get() raises at once instead of hanging; join() returns."""
    gate = Signal()
    pool = Pool(2)
    slow = pool.apply_async(wait_for_gate, ([gate.ref],))
    pool.terminate()
    with pytest.raises(RayActorError):
        slow.get(timeout=DEADLINE_S)
    pool.join()
