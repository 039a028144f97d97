"""Objects live exactly as long as an ObjectRef to them exists somewhere."""

from __future__ import annotations

import gc
import time

import pytest

import greenroom as ray
from greenroom.runtime import state
from helpers import wait_for
from signal_helper import Signal


def stored() -> set[bytes]:
    """Object ids the node holds, after every reference event sent so far is applied."""
    gc.collect()
    ray.available_resources()  # a round trip through the node's loop: earlier events are in
    return set(state.runtime().node.objects.entries)


@ray.remote
def make(n):
    return list(range(n))


@ray.remote
def total(xs):
    return sum(xs)


def test_results_are_freed_when_their_refs_go(gr):
    """Dropping the refs of finished tasks frees their results."""
    before = stored()
    refs = [make.remote(10) for _ in range(50)]
    assert ray.get(refs)[3] == list(range(10))
    assert len(stored() - before) == 50
    del refs
    assert stored() - before == set()


def test_put_is_freed_when_its_ref_goes(gr):
    """A put() value lives while its ref does."""
    before = stored()
    ref = ray.put("x" * 1000)
    oid = ref.id
    assert oid in stored()
    del ref
    assert oid not in stored() and stored() == before


def test_unwanted_result_is_freed_when_the_task_ends(gr):
    """A task whose ref was dropped right away still runs; its result is not kept."""
    before = stored()
    sig = Signal()
    done = ray.remote(lambda s: ray.get(s[0])).remote([sig.ref])
    make.remote(5)  # ref dropped at once
    sig.send()
    ray.get(done)
    del done
    # make() may still be running (nothing waits for it): its result must go once it ends.
    wait_for(lambda: stored() - before <= {sig.ref.id}, "the unwanted result to be freed")


def test_argument_outlives_the_drivers_ref_while_the_task_runs(gr):
    """A ref passed to a task (top level or nested) keeps its object alive until the task ends."""
    sig = Signal()

    @ray.remote
    def late(gate, value, nested):
        ray.get(gate[0])
        return value + ray.get(nested[0])

    a, b = ray.put(1), ray.put(2)
    ref = late.remote([sig.ref], a, [b])
    ids = {a.id, b.id}
    del a, b
    assert ids <= stored()
    sig.send()
    assert ray.get(ref) == 3
    assert not ids & stored()


def test_refs_inside_a_value_live_as_long_as_it(gr):
    """A ref pickled inside a put() value keeps its object alive while that value exists."""
    inner = ray.put([1, 2, 3])
    inner_id = inner.id
    outer = ray.put({"inner": inner})
    del inner
    assert inner_id in stored()
    assert ray.get(ray.get(outer)["inner"]) == [1, 2, 3]
    del outer
    assert inner_id not in stored()


def test_ref_returned_from_a_task(gr):
    """A task that puts a value and returns its ref: the value lives until the driver lets go."""

    @ray.remote
    def producer():
        return [ray.put("made in a worker")]

    (inner,) = ray.get(producer.remote())
    assert ray.get(inner) == "made in a worker"
    inner_id = inner.id
    del inner
    assert inner_id not in stored()


def test_actor_keeps_a_ref_it_was_given(gr):
    """An actor that stores a ref it received keeps the object alive after the driver drops it."""

    @ray.remote
    class Keeper:
        def keep(self, refs):
            self.ref = refs[0]

        def read(self):
            return ray.get(self.ref)

    k = Keeper.remote()
    value = ray.put("kept")
    ray.get(k.keep.remote([value]))
    del value
    gc.collect()
    assert ray.get(k.read.remote()) == "kept"


def test_worker_death_releases_its_refs(gr):
    """Refs held by a worker that exits stop keeping objects alive."""

    @ray.remote
    class Holder:
        def hold(self):
            self.ref = ray.put("held")
            return self.ref.id

    h = Holder.remote()
    oid = ray.get(h.hold.remote())
    assert oid in stored()
    ray.kill(h)
    deadline = time.monotonic() + 10
    while oid in stored():  # each check is a round trip to the node, which notices the exit
        assert time.monotonic() < deadline, "the dead actor's ref still keeps the object"


def test_get_after_free_is_impossible_while_a_ref_lives(gr):
    """As long as the program holds a ref, get() works, however many others were dropped."""
    keep = ray.put(list(range(100)))
    for _ in range(20):
        ray.get(total.remote(keep))
    assert ray.get(keep)[-1] == 99


@pytest.mark.parametrize("n", [1000])
def test_many_tasks_leave_nothing_behind(gr, n):
    """After n tasks whose refs are gone, the node stores nothing for them."""
    before = stored()
    assert sum(ray.get([total.remote([i]) for i in range(n)])) == n * (n - 1) // 2
    assert stored() - before == set()


def test_dropped_ref_is_freed_without_further_calls(gr):
    """A driver that drops a ref and then makes no API call still frees the object (lazily, soon)."""
    ref = ray.put("x" * 1000)
    oid = ref.id
    entries = state.runtime().node.objects.entries
    ray.available_resources()
    del ref
    gc.collect()
    deadline = time.monotonic() + 5
    while oid in entries:  # no API call here: only the node's own timer may apply the drop
        assert time.monotonic() < deadline, "the dropped ref was never applied"
        time.sleep(0.005)  # nothing to wait on but the node's timer
