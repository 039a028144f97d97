"""ResourcePool: infeasibility reasons, atomic acquisition, lending."""

import pytest

from greenroom.scheduler.pool import Allocation, ResourcePool
from greenroom.scheduler.resources import UNIT, ResourceSet, parse_resources


def rs(**amounts):
    return ResourceSet.from_dict(amounts)


def node(cpus=4, gpus=2, **custom):
    return ResourcePool(rs(CPU=cpus, GPU=gpus, **custom))


def test_default_gpu_ids_are_whole_devices():
    """Without capacities, n GPUs become ids 0..n-1, each whole."""
    assert node(gpus=3).gpu_capacities() == {0: UNIT, 1: UNIT, 2: UNIT}


def test_gpu_total_must_match_capacities():
    """A total GPU amount that differs from the devices' sum is rejected."""
    with pytest.raises(ValueError, match="does not match the GPU devices"):
        ResourcePool(rs(GPU=1), {0: UNIT, 1: UNIT})
    with pytest.raises(ValueError, match="pass gpu_capacities"):
        ResourcePool(rs(GPU=0.5))
    assert ResourcePool(rs(GPU=0.5), {2: UNIT // 2}).gpu_capacities() == {2: UNIT // 2}


def test_infeasible_when_resource_missing():
    """A custom resource the pool lacks names it, the totals, and the option."""
    reason = node().infeasible_reason(parse_resources(resources={"tpu": 1}))
    assert reason == (
        "request {'CPU': 1.0, 'tpu': 1.0} can never be scheduled: it asks for tpu=1.0 "
        "but this node has no 'tpu' (it has {'CPU': 4.0, 'GPU': 2.0}); remove "
        "resources['tpu'] from the request or give this node some 'tpu'"
    )


def test_infeasible_when_too_large():
    """Asking more than the total names asked vs total and the option to lower."""
    reason = node().infeasible_reason(parse_resources(num_gpus=3))
    assert "asks for GPU=3.0 but this node has GPU=2.0 in total" in reason
    assert "lower num_gpus to at most 2.0" in reason
    assert node().infeasible_reason(parse_resources(num_cpus=4, num_gpus=2)) is None


def test_infeasible_fraction_no_single_device_holds():
    """0.75 GPU is infeasible in a pool of two half devices."""
    pool = ResourcePool(rs(GPU=1), {0: UNIT // 2, 1: UNIT // 2})
    reason = pool.infeasible_reason(parse_resources(num_cpus=0, num_gpus=0.75))
    assert "must fit on one device" in reason and "largest GPU share" in reason
    whole = pool.infeasible_reason(parse_resources(num_cpus=0, num_gpus=1))
    assert "1 whole GPU(s)" in whole and "0 whole device(s)" in whole


def test_try_acquire_is_atomic_and_release_restores():
    """CPU and GPU are taken together or not at all; release gives both back."""
    pool = node(cpus=4, gpus=1)
    first = pool.try_acquire(parse_resources(num_cpus=1, num_gpus=1))
    assert isinstance(first, Allocation) and first.gpu_ids == [0]
    # CPU is free but no GPU: nothing may be taken.
    assert pool.try_acquire(parse_resources(num_cpus=1, num_gpus=0.5)) is None
    assert pool.available == rs(CPU=3)
    pool.release(first)
    assert pool.available == pool.total
    assert pool.gpu_free_units() == {0: UNIT}


def test_double_release_raises_and_changes_nothing():
    """Releasing twice is caught before the pool is changed."""
    pool = node()
    alloc = pool.try_acquire(parse_resources(num_cpus=1))
    pool.release(alloc)
    with pytest.raises(ValueError, match="released twice"):
        pool.release(alloc)
    assert pool.available == pool.total


def test_lend_and_reclaim_may_oversubscribe():
    """A lent CPU can be re-used; reclaiming it then drives available negative."""
    pool = node(cpus=1, gpus=0)
    holder = pool.try_acquire(parse_resources(num_cpus=1))
    pool.lend(rs(CPU=1))
    other = pool.try_acquire(parse_resources(num_cpus=1))
    assert other is not None
    pool.reclaim(rs(CPU=1))
    assert pool.available.get("CPU") == -UNIT
    assert pool.try_acquire(parse_resources(num_cpus=0.5)) is None
    pool.release(other)
    pool.release(holder)
    assert pool.available == pool.total


def test_gpus_cannot_be_lent():
    """Lending GPU is refused: the device stays with its process."""
    with pytest.raises(ValueError, match="lend CPU only"):
        node().lend(rs(GPU=1))
