"""Placement-group bundles: validation, feasibility, reservation, bundle pools."""

import pytest

from greenroom.scheduler.placement import (
    STRATEGIES,
    bundle_pool,
    placement_infeasible_reason,
    reserve_bundles,
    validate_bundles,
)
from greenroom.scheduler.pool import ResourcePool
from greenroom.scheduler.resources import UNIT, ResourceSet, parse_resources


def rs(**amounts):
    return ResourceSet.from_dict(amounts)


def node(cpus=4, gpus=2):
    return ResourcePool(rs(CPU=cpus, GPU=gpus))


def test_validate_bundles_converts_ray_keys():
    """Ray's bundle keys become ResourceSets, custom names kept."""
    out = validate_bundles([{"CPU": 1, "GPU": 0.5}, {"memory": 100, "tpu": 2}], "PACK")
    assert out == [rs(CPU=1, GPU=0.5), rs(memory=100, tpu=2)]
    assert STRATEGIES == ("PACK", "SPREAD", "STRICT_PACK", "STRICT_SPREAD")


@pytest.mark.parametrize(
    "bundles, strategy, error, match",
    [
        ([], "PACK", ValueError, "at least one bundle"),
        ({"CPU": 1}, "PACK", TypeError, "expected a list"),
        (["CPU"], "PACK", TypeError, r"bundles\[0\]='CPU'"),
        ([{}], "PACK", ValueError, "must reserve something"),
        ([{"CPU": 0}], "PACK", ValueError, "must reserve something"),
        ([{"CPU": -1}], "PACK", ValueError, r"bundles\[0\]\['CPU'\]=-1"),
        ([{"CPU": 1}, {"GPU": "1"}], "PACK", TypeError, r"bundles\[1\]\['GPU'\]='1'"),
        ([{"GPU": 1.5}], "PACK", ValueError, "whole number"),
        ([{"num_cpus": 1}], "PACK", ValueError, "use 'CPU' instead of 'num_cpus'"),
        ([{"CPU": 1}], "pack", ValueError, "strategy 'pack'"),
    ],
)
def test_validate_bundles_errors(bundles, strategy, error, match):
    """Each kind of bad bundle list gets its own clear error."""
    with pytest.raises(error, match=match):
        validate_bundles(bundles, strategy)


def test_strict_spread_needs_one_node_per_bundle():
    """STRICT_SPREAD with two bundles can never be placed; one bundle can."""
    pool = node()
    reason = placement_infeasible_reason(pool, [rs(CPU=1), rs(CPU=1)], "STRICT_SPREAD")
    assert "STRICT_SPREAD" in reason and "'PACK' or 'SPREAD'" in reason
    assert placement_infeasible_reason(pool, [rs(CPU=1)], "STRICT_SPREAD") is None
    for strategy in ("PACK", "SPREAD", "STRICT_PACK"):
        assert placement_infeasible_reason(pool, [rs(CPU=1)] * 2, strategy) is None


def test_bundle_too_large_names_the_bundle():
    """A single oversized bundle is named by index with asked vs total."""
    reason = placement_infeasible_reason(node(), [rs(CPU=1), rs(GPU=3)], "PACK")
    assert reason.startswith("placement group bundle 1: request {'GPU': 3.0}")
    assert "GPU=2.0 in total" in reason


def test_sum_of_bundles_must_fit():
    """Bundles that fit alone but not together are infeasible."""
    reason = placement_infeasible_reason(node(cpus=4), [rs(CPU=3), rs(CPU=2)], "PACK")
    assert "can never be placed together" in reason and "{'CPU': 5.0}" in reason


def test_sum_respects_gpu_devices():
    """0.6 + 0.6 + 0.6 GPU need three devices even though 1.8 <= 2."""
    bundles = [rs(GPU=0.6)] * 3
    assert "placed together" in placement_infeasible_reason(node(gpus=2), bundles, "PACK")
    assert placement_infeasible_reason(node(gpus=3), bundles, "PACK") is None


def test_feasibility_ignores_current_usage():
    """A group that fits an idle node is feasible even while the node is busy."""
    pool = node(cpus=2, gpus=0)
    pool.try_acquire(rs(CPU=2))
    assert placement_infeasible_reason(pool, [rs(CPU=2)], "PACK") is None
    assert pool.available.get("CPU") == 0


def test_reserve_is_all_or_none():
    """If one bundle does not fit, none stays reserved."""
    pool = node(cpus=4, gpus=1)
    assert reserve_bundles(pool, [rs(CPU=1, GPU=1), rs(CPU=1, GPU=1)]) is None
    assert pool.available == pool.total
    allocs = reserve_bundles(pool, [rs(CPU=1, GPU=0.5), rs(CPU=2, GPU=0.5)])
    assert [a.gpu_ids for a in allocs] == [[0], [0]]
    assert pool.available == rs(CPU=1)


def test_reserve_places_whole_gpus_before_fractions():
    """[0.5, 1] on two GPUs succeeds: the whole bundle is placed first."""
    pool = node(cpus=4, gpus=2)
    pool_allocs = reserve_bundles(pool, [rs(GPU=0.5), rs(GPU=0.5), rs(GPU=1)])
    assert [a.gpus for a in pool_allocs] == [((1, 5_000),), ((1, 5_000),), ((0, UNIT),)]


def test_bundle_pool_offers_exactly_the_grant():
    """A bundle pool's GPUs are the granted ids and shares only."""
    pool = node(cpus=4, gpus=2)
    pool.try_acquire(parse_resources(num_cpus=0, num_gpus=1))  # id 0 taken
    (alloc,) = reserve_bundles(pool, [rs(CPU=2, GPU=0.5)])
    inner = bundle_pool(alloc)
    assert inner.total == rs(CPU=2, GPU=0.5)
    assert inner.gpu_capacities() == {1: 5_000}
    task = inner.try_acquire(parse_resources(num_cpus=1, num_gpus=0.25))
    assert task.gpu_ids == [1]
    assert "GPU=0.5 in total" in inner.infeasible_reason(parse_resources(num_gpus=0.75))
    assert inner.infeasible_reason(parse_resources(num_gpus=1)) is not None
