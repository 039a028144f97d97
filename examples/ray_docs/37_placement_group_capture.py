"""Placement groups: capture child tasks in the parent's group, and opt a child out with placement_group=None."""

import time

import greenroom as ray
from greenroom.util import get_current_placement_group, placement_group
from greenroom.util.scheduling_strategies import PlacementGroupSchedulingStrategy

ray.init(num_cpus=2)

# Create a placement group.
pg = placement_group([{"CPU": 2}])
ray.get(pg.ready(), timeout=10)


@ray.remote(num_cpus=1)
def child():
    time.sleep(0.2)
    return get_current_placement_group()


@ray.remote(num_cpus=1)
def parent():
    # The child task is scheduled to the same placement group as its parent,
    # although it didn't specify the PlacementGroupSchedulingStrategy.
    return get_current_placement_group(), ray.get(child.remote())


# Since the child and parent use 1 CPU each, the placement group bundle {"CPU": 2} is fully occupied.
parent_pg, child_pg = ray.get(
    parent.options(
        scheduling_strategy=PlacementGroupSchedulingStrategy(
            placement_group=pg, placement_group_capture_child_tasks=True
        )
    ).remote(),
    timeout=30,
)
assert parent_pg == pg and child_pg == pg

# The driver doesn't belong to any placement group.
assert get_current_placement_group() is None


@ray.remote(num_cpus=1)
def parent_opting_out():
    # In this case, the child task isn't scheduled with the parent's placement group.
    return ray.get(
        child.options(scheduling_strategy=PlacementGroupSchedulingStrategy(placement_group=None)).remote()
    )


# This fails: the node has {"CPU": 2} and both are reserved by the placement group,
# so a child that must run outside the group can never get a CPU.
try:
    ray.get(
        parent_opting_out.options(
            scheduling_strategy=PlacementGroupSchedulingStrategy(
                placement_group=pg, placement_group_capture_child_tasks=True
            )
        ).remote(),
        timeout=2,
    )
except Exception as e:
    print("Couldn't create a child task!", type(e).__name__)
    failed = True
else:
    failed = False
assert failed

ray.shutdown()
print("ok")
