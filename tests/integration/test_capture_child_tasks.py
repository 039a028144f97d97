"""placement_group_capture_child_tasks: work a placed task or actor starts runs in its group."""

from __future__ import annotations

import pytest

import greenroom as ray
from greenroom.exceptions import ResourceDeadlockError
from greenroom.util import get_current_placement_group, placement_group, remove_placement_group
from greenroom.util.scheduling_strategies import PlacementGroupSchedulingStrategy

pytestmark = pytest.mark.timeout(60)


def group_id():
    pg = get_current_placement_group()
    return pg.id.hex() if pg is not None else None


@ray.remote(num_cpus=0.5)
def where():
    return group_id()


@ray.remote(num_cpus=0.5)
def parent_of(levels):
    """Runs a chain of children `levels` deep; returns the group each one ran in."""
    if levels == 0:
        return [group_id()]
    return [group_id(), *ray.get(parent_of.remote(levels - 1), timeout=30)]


@ray.remote(num_cpus=0.5)
def opting_out():
    outside = PlacementGroupSchedulingStrategy(placement_group=None)
    return group_id(), ray.get(where.options(scheduling_strategy=outside).remote(), timeout=30)


@ray.remote(num_cpus=0)
class Spawner:
    def child_group(self):
        return ray.get(where.remote(), timeout=30)


def test_children_and_grandchildren_run_in_the_captured_group(gr):
    """A task placed with capture=True: its children, and theirs, run in the same group."""
    pg = placement_group([{"CPU": 2}])
    assert pg.wait(10)
    capture = PlacementGroupSchedulingStrategy(pg, placement_group_capture_child_tasks=True)
    assert ray.get(parent_of.options(scheduling_strategy=capture).remote(2), timeout=30) == [pg.id.hex()] * 3
    remove_placement_group(pg)


def test_without_capture_children_run_outside_the_group(gr):
    """capture is off by default: a placed task's children run on the node's own resources."""
    pg = placement_group([{"CPU": 1}])
    assert pg.wait(10)
    plain = PlacementGroupSchedulingStrategy(pg)
    assert ray.get(parent_of.options(scheduling_strategy=plain).remote(1), timeout=30) == [pg.id.hex(), None]
    remove_placement_group(pg)


def test_a_child_opts_out_with_placement_group_none(gr):
    """PlacementGroupSchedulingStrategy(placement_group=None) runs a child outside the captured group."""
    pg = placement_group([{"CPU": 1}])
    assert pg.wait(10)
    capture = PlacementGroupSchedulingStrategy(pg, placement_group_capture_child_tasks=True)
    assert ray.get(opting_out.options(scheduling_strategy=capture).remote(), timeout=30) == (pg.id.hex(), None)
    remove_placement_group(pg)


def test_an_actor_placed_with_capture_puts_its_tasks_in_the_group(gr):
    """An actor created with capture=True: the tasks its methods start run in its group."""
    pg = placement_group([{"CPU": 1}])
    assert pg.wait(10)
    capture = PlacementGroupSchedulingStrategy(pg, placement_group_capture_child_tasks=True)
    spawner = Spawner.options(scheduling_strategy=capture).remote()
    assert ray.get(spawner.child_group.remote(), timeout=30) == pg.id.hex()
    ray.kill(spawner)
    remove_placement_group(pg)


def test_a_child_that_can_never_fit_beside_its_parent_is_reported_not_left_hanging(gr):
    """The parent holds the group's only GPU and waits on a captured child needing it: deadlock error."""

    @ray.remote(num_gpus=1, num_cpus=0)
    def gpu_child():
        return 1

    @ray.remote(num_gpus=1, num_cpus=0)
    def gpu_parent():
        return ray.get(gpu_child.remote(), timeout=30)

    pg = placement_group([{"GPU": 1}])
    assert pg.wait(10)
    capture = PlacementGroupSchedulingStrategy(pg, placement_group_capture_child_tasks=True)
    with pytest.raises(ResourceDeadlockError, match="placement group"):
        ray.get(gpu_parent.options(scheduling_strategy=capture, max_retries=0).remote(), timeout=30)
    remove_placement_group(pg)
