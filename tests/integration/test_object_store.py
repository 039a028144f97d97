"""Large values go through shared memory: written once, read without a copy, freed with their refs."""

from __future__ import annotations

import gc
import glob

import numpy as np
import pytest

import greenroom as ray
from greenroom.exceptions import ObjectStoreFullError
from greenroom.runtime import state


def store_free() -> int:
    gc.collect()
    ray.available_resources()  # a round trip: reference events sent so far are applied
    return state.runtime().node.allocator.free_bytes


@pytest.fixture
def store():
    ray.init(num_cpus=2, object_store_memory=256 << 20)
    yield state.runtime().node.allocator
    ray.shutdown()


def test_get_of_a_large_array_is_a_read_only_view(store):
    """get() of a 40 MB array is equal, read-only, and backed by a mapping, not a copy."""
    arr = np.random.rand(5_000_000)
    ref = ray.put(arr)
    out = ray.get(ref)
    assert np.array_equal(out, arr)
    assert not out.flags.writeable and not out.flags.owndata
    base = out
    while isinstance(base, (np.ndarray, memoryview)):
        base = base.base if isinstance(base, np.ndarray) else base.obj
    assert type(base).__name__ == "mmap"
    assert store.free_bytes < store.size  # it lives in the store


def test_task_reads_a_large_argument_without_a_copy(store):
    """A task given the ref maps the same memory: the sum matches and the view is read-only."""

    @ray.remote
    def inspect(x):
        return float(x.sum()), x.flags.writeable

    arr = np.arange(5_000_000, dtype=np.float64)
    total, writeable = ray.get(inspect.remote(ray.put(arr)))
    assert total == float(arr.sum()) and writeable is False


def test_large_result_from_a_worker(store):
    """A task's large result is written to shared memory by the worker and read in the driver."""

    @ray.remote
    def make():
        return np.ones(3_000_000)

    out = ray.get(make.remote())
    assert out.sum() == 3_000_000 and not out.flags.writeable


def test_memory_is_freed_with_the_last_ref_and_the_last_reader(store):
    """The block returns once the ref is gone and no array still uses it."""
    empty = store_free()
    ref = ray.put(np.zeros(4_000_000))
    view = ray.get(ref)
    del ref
    assert store_free() < empty  # the array still reads it
    del view
    assert store_free() == empty


def test_an_actor_keeps_a_large_value_it_holds(store):
    """An actor that stores a large argument keeps its memory valid after the driver lets go."""

    @ray.remote
    class Keeper:
        def keep(self, x):
            self.x = x

        def total(self):
            return float(self.x.sum())

    k = Keeper.remote()
    ray.get(k.keep.remote(ray.put(np.full(2_000_000, 2.0))))
    for _ in range(3):  # other values come and go meanwhile
        ray.put(np.zeros(2_000_000))
    assert ray.get(k.total.remote()) == 4_000_000.0


def test_value_larger_than_the_store_fails_clearly(store):
    """A value that does not fit raises ObjectStoreFullError saying what to change."""
    with pytest.raises(ObjectStoreFullError, match="object_store_memory"):
        ray.put(np.zeros(40_000_000))  # 320 MB > 256 MB
    assert ray.get(ray.put(1)) == 1  # nothing else is lost


def test_small_arrays_stay_inline(store):
    """Small values don't use shared memory at all."""
    empty = store_free()
    ref = ray.put(np.arange(100))
    assert ray.get(ref)[-1] == 99 and store_free() == empty


def test_nothing_in_dev_shm():
    """The store is an anonymous memfd: nothing appears in /dev/shm, before or after shutdown."""
    before = set(glob.glob("/dev/shm/*"))
    ray.init(num_cpus=1)
    try:
        ray.get(ray.put(np.zeros(2_000_000)))
        assert set(glob.glob("/dev/shm/*")) == before
    finally:
        ray.shutdown()
    assert set(glob.glob("/dev/shm/*")) == before


def test_large_argument_goes_through_shared_memory(store):
    """A large array passed by value (not put) reaches the task as a read-only shared view."""

    @ray.remote
    def inspect(x, y=None):
        return float(x.sum()), x.flags.writeable, y.nbytes if y is not None else 0

    arr = np.ones(2_000_000)
    assert ray.get(inspect.remote(arr, y=np.zeros(1_000_000))) == (2_000_000.0, False, 8_000_000)
    assert store_free() == store.size  # the promoted copies are freed once the task is done


@ray.remote(max_retries=0)
def allocate_then_die(nbytes: int) -> None:
    import os

    state.current().allocate(nbytes)  # the first step of a large result or put()
    os._exit(1)


def test_block_of_a_worker_that_dies_before_delivering_it_is_freed(store):
    """A block allocated by a worker that dies before sending its value goes back to the store."""
    empty = store_free()
    with pytest.raises(ray.exceptions.WorkerCrashedError):
        ray.get(allocate_then_die.remote(64 << 20), timeout=30)
    assert store_free() == empty
