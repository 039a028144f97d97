"""CPU core ids for pinning (scheduler/cpus.py and its use in pools and the queue): pure logic."""

from __future__ import annotations

import pytest

from greenroom.scheduler.cpus import CpuPool, core_capacities
from greenroom.scheduler.pool import ResourcePool
from greenroom.scheduler.queue import Scheduler
from greenroom.scheduler.resources import UNIT, ResourceSet

pytestmark = pytest.mark.timeout(10)
HALF = UNIT // 2


def rs(**amounts):
    return ResourceSet.from_dict(amounts)


def test_core_capacities_whole_cores_then_the_rest():
    assert core_capacities(2 * UNIT) == {0: UNIT, 1: UNIT}
    assert core_capacities(2 * UNIT + HALF) == {0: UNIT, 1: UNIT, 2: HALF}
    assert core_capacities(0) == {}


def test_whole_requests_take_distinct_free_cores():
    pool = CpuPool(core_capacities(4 * UNIT))
    assert pool.acquire(UNIT) == ((0, UNIT),)
    assert pool.acquire(2 * UNIT) == ((1, UNIT), (2, UNIT))
    assert pool.acquire(2 * UNIT) is None
    assert pool.acquire(UNIT) == ((3, UNIT),)


def test_fractional_requests_pack_onto_one_core_and_leave_whole_cores_whole():
    """Two halves share core 0; a whole request then still finds core 1 free."""
    pool = CpuPool(core_capacities(2 * UNIT))
    assert pool.acquire(HALF) == ((0, HALF),)
    assert pool.acquire(HALF) == ((0, HALF),)
    assert pool.acquire(UNIT) == ((1, UNIT),)
    assert pool.acquire(HALF) is None


def test_a_whole_request_needs_a_core_no_share_is_on():
    pool = CpuPool(core_capacities(2 * UNIT))
    pool.acquire(HALF)
    pool.acquire(HALF + 1)  # best fit would pick core 0, but it only has HALF left: core 1
    assert pool.acquire(UNIT) is None


def test_one_and_a_half_cpus_get_a_whole_core_and_a_share_of_another():
    pool = CpuPool(core_capacities(3 * UNIT))
    assert pool.acquire(UNIT + HALF) == ((0, UNIT), (1, HALF))
    assert pool.acquire(HALF) == ((1, HALF),)
    assert pool.acquire(UNIT) == ((2, UNIT),)


def test_release_and_double_release():
    pool = CpuPool(core_capacities(2 * UNIT))
    grant = pool.acquire(UNIT + HALF)
    pool.release(grant)
    assert pool.free_units() == {0: UNIT, 1: UNIT}
    with pytest.raises(ValueError, match="released twice"):
        pool.release(grant)
    with pytest.raises(ValueError, match="not in this pool"):
        pool.release(((7, UNIT),))


def test_lent_cores_go_to_others_and_come_back_oversubscribed():
    """take() never fails: a task back from get() reclaims its core even if it was re-granted."""
    pool = CpuPool(core_capacities(UNIT))
    grant = pool.acquire(UNIT)
    pool.release(grant)  # lent
    other = pool.acquire(UNIT)
    assert other == grant
    pool.take(grant)  # reclaimed
    assert pool.free_units() == {0: -UNIT}
    pool.release(other)
    pool.release(grant)
    assert pool.free_units() == {0: UNIT}


def test_a_pool_that_pins_refuses_what_its_cores_can_never_give():
    """Two half cores make 1.0 CPU in total but no whole core: a 1-CPU request can never be placed."""
    pool = ResourcePool(rs(CPU=1), cpu_capacities={0: HALF, 1: HALF})
    assert "whole free core" in pool.infeasible_reason(rs(CPU=1))
    assert pool.infeasible_reason(rs(CPU=0.5)) is None
    with pytest.raises(ValueError, match="does not match the cores"):
        ResourcePool(rs(CPU=2), cpu_capacities={0: UNIT})


def test_scheduler_grants_distinct_cores_to_whole_cpu_tasks():
    scheduler = Scheduler(rs(CPU=2), cpu_ids=True)
    for key in ("a", "b", "c", "d"):
        scheduler.submit(key, rs(CPU=1) if key in "ab" else rs(CPU=0.5))
    grants = {g.key: g.allocation.cpu_ids for g in scheduler.schedule().grants}
    assert grants == {"a": [0], "b": [1]}
    scheduler.release("a")
    grants = {g.key: g.allocation.cpu_ids for g in scheduler.schedule().grants}
    assert grants == {"c": [0], "d": [0]}


def test_without_cpu_ids_grants_carry_no_cores():
    scheduler = Scheduler(rs(CPU=2))
    scheduler.submit("a", rs(CPU=1))
    assert scheduler.schedule().grants[0].allocation.cpus == ()


def test_a_blocked_task_lends_its_core_to_nested_work():
    """On a 1-CPU node a task blocked in get() lends its core; the nested task gets it; all balances."""
    scheduler = Scheduler(rs(CPU=1), cpu_ids=True)
    scheduler.submit("outer", rs(CPU=1))
    [outer] = scheduler.schedule().grants
    scheduler.block("outer")
    scheduler.submit("inner", rs(CPU=1))
    [inner] = scheduler.schedule().grants
    assert inner.allocation.cpu_ids == outer.allocation.cpu_ids == [0]
    scheduler.release("inner")
    scheduler.unblock("outer")
    scheduler.release("outer")
    assert scheduler.pool.available == rs(CPU=1)
    scheduler.submit("again", rs(CPU=1))
    assert scheduler.schedule().grants[0].allocation.cpu_ids == [0]


def test_placement_group_bundles_hold_cores_and_give_them_back():
    """A 2-CPU bundle owns 2 cores; its tasks get those; removing the group frees them for the node."""
    scheduler = Scheduler(rs(CPU=3), cpu_ids=True)
    scheduler.create_placement_group("pg", [rs(CPU=2)], "PACK")
    scheduler.schedule()
    [bundle] = scheduler.bundle_allocations("pg")
    assert bundle.cpu_ids == [0, 1]
    scheduler.submit("in", rs(CPU=1), ("pg", 0))
    scheduler.submit("out", rs(CPU=1))
    grants = {g.key: g.allocation.cpu_ids for g in scheduler.schedule().grants}
    assert grants == {"in": [0], "out": [2]}
    scheduler.remove_placement_group("pg")
    scheduler.release("in")
    scheduler.release("out")
    scheduler.submit("all", rs(CPU=3))
    assert scheduler.schedule().grants[0].allocation.cpu_ids == [0, 1, 2]
