"""Placement groups: reserve bundles, wait for ready, schedule into them, pending groups, remove."""

import greenroom as ray
from greenroom.util.placement_group import (
    get_placement_group,
    placement_group,
    placement_group_table,
    remove_placement_group,
)
from greenroom.util.scheduling_strategies import PlacementGroupSchedulingStrategy

# Initialize Ray with 2 CPUs and 2 GPUs.
ray.init(num_cpus=2, num_gpus=2)

# Reserve a placement group of 1 bundle that reserves 1 CPU and 1 GPU.
pg = placement_group([{"CPU": 1, "GPU": 1}])

# Wait until placement group is created.
ray.get(pg.ready(), timeout=10)

# You can also use ray.wait.
ready, unready = ray.wait([pg.ready()], timeout=10)
assert len(ready) == 1 and not unready

# You can look at placement group states using this API.
assert placement_group_table(pg)["state"] == "CREATED"

# Cannot create this placement group now: one GPU is held by `pg`, so no {"GPU": 2} bundle fits.
pending_pg = placement_group([{"CPU": 1}, {"GPU": 2}])
try:
    ray.get(pending_pg.ready(), timeout=2)
except ray.exceptions.GetTimeoutError:
    pending = True
else:
    pending = False
assert pending
assert placement_group_table(pending_pg)["state"] == "PENDING"
remove_placement_group(pending_pg)


@ray.remote(num_cpus=1)
class Actor:
    def __init__(self):
        pass

    def ready(self):
        return ray.get_runtime_context().get_placement_group_id()


# Create an actor to a placement group.
actor = Actor.options(
    scheduling_strategy=PlacementGroupSchedulingStrategy(placement_group=pg)
).remote()
# Verify the actor is scheduled.
assert ray.get(actor.ready.remote(), timeout=10) == pg.id.hex()


@ray.remote(num_cpus=0, num_gpus=1)
def gpu_task():
    return ray.get_gpu_ids()


# A task can use a specific bundle by index.
ids = ray.get(
    gpu_task.options(
        scheduling_strategy=PlacementGroupSchedulingStrategy(placement_group=pg, placement_group_bundle_index=0)
    ).remote(),
    timeout=10,
)
assert len(ids) == 1

# This API is asynchronous.
ray.kill(actor)
remove_placement_group(pg)
# Wait until placement group is killed.
import time  # noqa: E402

deadline = time.monotonic() + 10
while placement_group_table(pg)["state"] != "REMOVED" and time.monotonic() < deadline:
    time.sleep(0.05)
assert placement_group_table(pg)["state"] == "REMOVED"

# A named placement group can be retrieved later by its name.
named = placement_group([{"CPU": 1}], name="global_name")
ray.get(named.ready(), timeout=10)
assert get_placement_group("global_name").id == named.id

ray.shutdown()
print("ok")
