"""Placement groups through Ray's public paths, with real worker processes.

Tasks that must run at the same time meet at a file barrier in ``tmp_path``.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

import greenroom
from greenroom.exceptions import TaskUnschedulableError
from greenroom.util import (
    get_current_placement_group,
    get_placement_group,
    placement_group,
    placement_group_table,
    remove_placement_group,
)
from greenroom.util.scheduling_strategies import PlacementGroupSchedulingStrategy
from helpers import wait_for

DEADLINE_S = 20.0


def in_bundle(pg, index: int = -1) -> PlacementGroupSchedulingStrategy:
    return PlacementGroupSchedulingStrategy(pg, placement_group_bundle_index=index)


@greenroom.remote
def gpu_view():
    return greenroom.get_gpu_ids(), os.environ.get("CUDA_VISIBLE_DEVICES")


@greenroom.remote(num_gpus=1, num_cpus=0)
def gpu_at_barrier(directory: str, name: str, parties: int):
    Path(directory, name).touch()
    wait_for(lambda: len(os.listdir(directory)) >= parties, f"{parties} tasks at barrier")
    return greenroom.get_gpu_ids()


@greenroom.remote
def hold(started: str, release: str):
    Path(started).touch()
    wait_for(lambda: os.path.exists(release), f"release file {release}")
    return greenroom.get_gpu_ids()


@greenroom.remote
def outer(pg):
    inner_ref = gpu_view.options(scheduling_strategy=in_bundle(pg, 1)).remote()
    return pg.id.hex(), pg.bundle_count, greenroom.get(inner_ref, timeout=DEADLINE_S)


@greenroom.remote
def current_group():
    pg = get_current_placement_group()
    return None if pg is None else pg.id.hex()


BUNDLES = [{"CPU": 1, "GPU": 1}, {"CPU": 1}]


def test_group_becomes_ready(gr):
    """A group that fits is ready: pg.wait() is True and get(pg.ready()) returns."""
    pg = placement_group(BUNDLES)
    assert pg.wait(10) is True
    greenroom.get(pg.ready(), timeout=DEADLINE_S)
    ready, _ = greenroom.wait([pg.ready()], timeout=DEADLINE_S)
    assert len(ready) == 1


def test_reservation_shows_in_available_resources(gr):
    """A ready group's bundles leave available_resources(); removing it gives them back."""
    pg = placement_group(BUNDLES)
    assert pg.wait(10)
    available = greenroom.available_resources()
    assert available.get("CPU", 0) == 0
    assert available["GPU"] == 3.0
    assert greenroom.cluster_resources()["CPU"] == 2.0
    remove_placement_group(pg)
    wait_for(
        lambda: greenroom.available_resources().get("CPU") == 2.0 and greenroom.available_resources().get("GPU") == 4.0,
        "the removed group's resources to come back",
    )


def test_tasks_in_a_bundle_see_its_gpu(gr, tmp_path):
    """A task in bundle 0 gets the bundle's GPU, one the three other GPU tasks don't hold."""
    pg = placement_group(BUNDLES)
    assert pg.wait(10)
    others = greenroom.get(
        [gpu_at_barrier.remote(str(tmp_path), f"t{i}", 3) for i in range(3)], timeout=DEADLINE_S + 10
    )
    other_ids = sorted(i for ids in others for i in ids)
    assert len(set(other_ids)) == 3
    first = greenroom.get(
        gpu_view.options(num_gpus=1, scheduling_strategy=in_bundle(pg, 0)).remote(), timeout=DEADLINE_S
    )
    second = greenroom.get(
        gpu_view.options(num_gpus=1, scheduling_strategy=in_bundle(pg, 0)).remote(), timeout=DEADLINE_S
    )
    ids, cuda = first
    assert len(ids) == 1 and cuda == str(ids[0])
    assert sorted(other_ids + ids) == [0, 1, 2, 3]
    assert second == first


def test_task_in_a_gpu_free_bundle_sees_no_gpu(gr):
    """A task in a CPU-only bundle sees no GPU ids and CUDA_VISIBLE_DEVICES == ''."""
    pg = placement_group(BUNDLES)
    assert pg.wait(10)
    assert greenroom.get(gpu_view.options(scheduling_strategy=in_bundle(pg, 1)).remote(), timeout=DEADLINE_S) == (
        [],
        "",
    )


def test_task_in_any_bundle_runs(gr):
    """bundle index -1 (the default) runs the task in whichever bundle fits it."""
    pg = placement_group(BUNDLES)
    assert pg.wait(10)
    ids, _ = greenroom.get(
        gpu_view.options(num_gpus=1, scheduling_strategy=PlacementGroupSchedulingStrategy(pg)).remote(),
        timeout=DEADLINE_S,
    )
    assert len(ids) == 1


@pytest.mark.parametrize(
    "options, index",
    [
        pytest.param({"num_gpus": 1}, 1, id="gpu-in-cpu-bundle"),
        pytest.param({"num_cpus": 2}, 0, id="two-cpus-in-one-cpu-bundle"),
        pytest.param({"num_cpus": 2}, -1, id="two-cpus-in-any-bundle"),
        pytest.param({"resources": {"foo": 1}}, 0, id="custom-resource-not-in-bundle"),
    ],
)
def test_task_larger_than_its_bundle_is_unschedulable(gr, options, index):
    """A task asking more than its bundle can ever give raises TaskUnschedulableError at .remote()."""
    pg = placement_group(BUNDLES)
    assert pg.wait(10)
    with pytest.raises(TaskUnschedulableError):
        gpu_view.options(scheduling_strategy=in_bundle(pg, index), **options).remote()


def test_bundle_index_out_of_range(gr):
    """A bundle index past the group's bundles raises ValueError."""
    pg = placement_group(BUNDLES)
    with pytest.raises(ValueError):
        gpu_view.options(scheduling_strategy=in_bundle(pg, 2)).remote()


def test_group_that_cannot_fit_now_waits(gr):
    """A group that doesn't fit beside another stays pending until that one is removed."""
    first = placement_group([{"GPU": 3, "CPU": 1}])
    assert first.wait(10)
    second = placement_group([{"GPU": 2}])
    assert second.wait(0.5) is False
    assert placement_group_table(second)["state"] == "PENDING"
    remove_placement_group(first)
    assert second.wait(10) is True
    assert placement_group_table(second)["state"] == "CREATED"
    assert greenroom.available_resources()["GPU"] == 2.0


def test_task_in_a_pending_group_runs_once_it_is_placed(gr):
    """A task submitted into a pending group waits, then runs when the group gets its resources."""
    first = placement_group([{"GPU": 3, "CPU": 1}])
    assert first.wait(10)
    second = placement_group([{"GPU": 2, "CPU": 1}])
    ref = gpu_view.options(num_gpus=1, scheduling_strategy=in_bundle(second, 0)).remote()
    ready, _ = greenroom.wait([ref], timeout=0.5)
    assert ready == [], "a task ran in a group that was not placed yet"
    remove_placement_group(first)
    ids, cuda = greenroom.get(ref, timeout=DEADLINE_S)
    assert len(ids) == 1 and cuda == str(ids[0])


def test_removing_a_pending_group_fails_its_waiters(gr):
    """Removing a pending group fails get(pg.ready()) and the tasks queued in it, instead of hanging."""
    first = placement_group([{"GPU": 3}])
    assert first.wait(10)
    second = placement_group([{"GPU": 2}])
    queued = gpu_view.options(num_cpus=0, num_gpus=1, scheduling_strategy=in_bundle(second, 0)).remote()
    remove_placement_group(second)
    with pytest.raises(greenroom.exceptions.RayError):
        greenroom.get(second.ready(), timeout=DEADLINE_S)
    with pytest.raises(TaskUnschedulableError):
        greenroom.get(queued, timeout=DEADLINE_S)
    assert greenroom.available_resources()["GPU"] == 1.0


def test_submitting_into_a_removed_group_names_it(gr):
    """.remote() into a removed group raises TaskUnschedulableError naming the group by its hex id."""
    pg = placement_group([{"CPU": 1}])
    assert pg.wait(10)
    remove_placement_group(pg)
    with pytest.raises(TaskUnschedulableError, match=pg.id.hex()):
        gpu_view.options(scheduling_strategy=in_bundle(pg, 0)).remote()


def test_task_in_a_bundle_takes_nothing_more_from_the_node(gr, tmp_path):
    """A task running inside a reserved bundle leaves the node's available resources unchanged."""
    pg = placement_group(BUNDLES)
    assert pg.wait(10)
    before = greenroom.available_resources()
    started, release = str(tmp_path / "started"), str(tmp_path / "release")
    ref = hold.options(num_gpus=1, scheduling_strategy=in_bundle(pg, 0)).remote(started, release)
    wait_for(lambda: os.path.exists(started), "the task in bundle 0 to start")
    try:
        assert greenroom.available_resources() == before
    finally:
        Path(release).touch()
    assert len(greenroom.get(ref, timeout=DEADLINE_S)) == 1
    assert greenroom.available_resources() == before


def test_strict_spread_needs_one_bundle(gr):
    """STRICT_SPREAD with 2 bundles raises ValueError (one node); with 1 bundle it is placed."""
    with pytest.raises(ValueError, match="STRICT_SPREAD"):
        placement_group([{"CPU": 1}, {"CPU": 1}], strategy="STRICT_SPREAD")
    pg = placement_group([{"CPU": 1}], strategy="STRICT_SPREAD")
    assert pg.wait(10)


@pytest.mark.parametrize("strategy", ["PACK", "SPREAD", "STRICT_PACK"])
def test_other_strategies_place_on_one_node(gr, strategy):
    """PACK, SPREAD and STRICT_PACK all place a fitting group on the one node."""
    pg = placement_group(BUNDLES, strategy=strategy)
    assert pg.wait(10)
    assert placement_group_table(pg)["strategy"] == strategy


def test_unknown_strategy_raises(gr):
    """An unknown strategy name raises ValueError."""
    with pytest.raises(ValueError):
        placement_group([{"CPU": 1}], strategy="SCATTER")


@pytest.mark.parametrize(
    "bundles, missing",
    [
        pytest.param([{"GPU": 5}], "GPU", id="five-gpus-of-four"),
        pytest.param([{"CPU": 1}, {"CPU": 1}, {"CPU": 1}], "CPU", id="three-cpus-of-two"),
        pytest.param([{"foo": 1}], "foo", id="unknown-custom"),
    ],
)
def test_group_larger_than_the_node_raises(gr, bundles, missing):
    """A group the node can never hold raises ValueError at creation, naming what is short."""
    with pytest.raises(ValueError, match=missing):
        placement_group(bundles)
    assert greenroom.available_resources()["CPU"] == 2.0


def test_removed_group_frees_a_pending_task_slot(gr):
    """After remove_placement_group, a new group needing all resources becomes ready."""
    pg = placement_group([{"CPU": 2, "GPU": 4}])
    assert pg.wait(10)
    remove_placement_group(pg)
    again = placement_group([{"CPU": 2, "GPU": 4}])
    assert again.wait(10)


def test_named_group_lookup(gr):
    """get_placement_group(name) returns the same group; an unknown name raises ValueError."""
    pg = placement_group(BUNDLES, name="trainers")
    found = get_placement_group("trainers")
    assert found == pg
    assert found.id.hex() == pg.id.hex()
    assert found.bundle_count == 2
    assert found.wait(10)
    with pytest.raises(ValueError):
        get_placement_group("no-such-group")


def test_placement_group_table(gr):
    """placement_group_table() shows each group's id, name, strategy, state and bundles."""
    pg = placement_group(BUNDLES, strategy="SPREAD", name="tabled")
    assert pg.wait(10)
    row = placement_group_table(pg)
    assert row["placement_group_id"] == pg.id.hex()
    assert row["name"] == "tabled"
    assert row["strategy"] == "SPREAD"
    assert row["state"] == "CREATED"
    assert row["bundles"] == {0: {"CPU": 1.0, "GPU": 1.0}, 1: {"CPU": 1.0}}
    assert placement_group_table()[pg.id.hex()] == row
    remove_placement_group(pg)
    wait_for(lambda: placement_group_table(pg)["state"] == "REMOVED", "the table to show REMOVED")


def test_group_handle_attributes(gr):
    """pg.id.hex() is a hex string, bundle_count and bundle_specs match the request."""
    pg = placement_group(BUNDLES)
    other = placement_group([{"CPU": 1}])
    hex_id = pg.id.hex()
    assert isinstance(hex_id, str) and hex_id
    int(hex_id, 16)
    assert pg.bundle_count == 2
    assert pg.bundle_specs == BUNDLES
    assert other.id.hex() != hex_id and other != pg


@pytest.mark.parametrize(
    "bundles, error",
    [
        pytest.param([], ValueError, id="no-bundles"),
        pytest.param([{}], ValueError, id="empty-bundle"),
        pytest.param([{"CPU": 0}], ValueError, id="all-zero-bundle"),
        pytest.param([{"CPU": -1}], ValueError, id="negative"),
        pytest.param([{"GPU": 1.5}], ValueError, id="fractional-gpu-above-1"),
        pytest.param([{"CPU": "1"}], TypeError, id="string-amount"),
        pytest.param({"CPU": 1}, TypeError, id="dict-not-list"),
        pytest.param(["CPU"], TypeError, id="list-of-strings"),
    ],
)
def test_bad_bundles_raise(gr, bundles, error):
    """Malformed bundles raise ValueError or TypeError at creation and reserve nothing."""
    with pytest.raises(error):
        placement_group(bundles)
    assert greenroom.available_resources()["CPU"] == 2.0
    assert placement_group_table() == {}


def test_group_passed_into_a_task_schedules_inner_tasks(gr):
    """A group pickled into a task can place that task's inner tasks in its bundles."""
    pg = placement_group([{"CPU": 1}, {"CPU": 1, "GPU": 1}])
    assert pg.wait(10)
    hex_id, count, (inner_ids, inner_cuda) = greenroom.get(
        outer.options(scheduling_strategy=in_bundle(pg, 0)).remote(pg), timeout=DEADLINE_S
    )
    assert hex_id == pg.id.hex()
    assert count == 2
    assert inner_ids == [] and inner_cuda == ""


def test_inner_gpu_task_in_group_from_a_task(gr):
    """An inner task placed from inside a task in a GPU bundle gets that bundle's GPU."""
    pg = placement_group([{"CPU": 1}, {"CPU": 1, "GPU": 1}])
    assert pg.wait(10)

    @greenroom.remote
    def outer_gpu(group):
        inner = gpu_view.options(num_gpus=1, scheduling_strategy=in_bundle(group, 1)).remote()
        return greenroom.get(inner, timeout=DEADLINE_S)

    ids, cuda = greenroom.get(outer_gpu.options(scheduling_strategy=in_bundle(pg, 0)).remote(pg), timeout=DEADLINE_S)
    assert len(ids) == 1 and cuda == str(ids[0])
    assert greenroom.available_resources()["GPU"] == 3.0


def test_current_placement_group_inside_a_task(gr):
    """get_current_placement_group() in a task placed in a group returns that group; outside, None."""
    pg = placement_group(BUNDLES)
    assert pg.wait(10)
    assert get_current_placement_group() is None
    assert greenroom.get(current_group.options(num_cpus=0).remote(), timeout=DEADLINE_S) is None
    inside = greenroom.get(current_group.options(scheduling_strategy=in_bundle(pg, 1)).remote(), timeout=DEADLINE_S)
    assert inside == pg.id.hex()


@greenroom.remote
class GroupMaker:
    def make(self, name: str, detached: bool) -> str:
        pg = placement_group([{"CPU": 1}], name=name, lifetime="detached" if detached else None)
        assert pg.wait(timeout_seconds=10)
        return pg.id.hex()


def test_a_group_fate_shares_with_the_actor_that_created_it(gr):
    """As in Ray: killing the creator removes its group (and frees the CPU); a detached one stays."""
    maker = GroupMaker.remote()
    owned = greenroom.get(maker.make.remote("owned", False))
    detached = greenroom.get(maker.make.remote("kept", True))
    assert greenroom.available_resources().get("CPU", 0) == 0
    greenroom.kill(maker)
    wait_for(lambda: placement_group_table()[owned]["state"] == "REMOVED", "the owned group to go with its actor")
    assert placement_group_table()[detached]["state"] == "CREATED"
    assert greenroom.available_resources()["CPU"] == 1
    remove_placement_group(get_placement_group("kept"))
