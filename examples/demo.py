"""greenroom in one minute: tasks in parallel, objects, GPUs, placement groups, errors.

Run: python examples/demo.py
"""

import os
import time

import greenroom as ray
from greenroom.util import placement_group, remove_placement_group
from greenroom.util.scheduling_strategies import PlacementGroupSchedulingStrategy

t0 = time.perf_counter()
# num_gpus larger than the machine's real count is allowed: tasks get ids of
# GPUs that may not exist, which is enough to see the scheduling.
ray.init(num_cpus=2, num_gpus=4)


@ray.remote
def square(x):
    return x * x


print(f"first result: {ray.get(square.remote(3))} ({time.perf_counter() - t0:.2f} s after start)")
print("squares:", ray.get([square.remote(i) for i in range(8)]))

# Objects: put once, pass the ref to many tasks.
data = ray.put(list(range(1000)))


@ray.remote
def total(xs):
    return sum(xs)


print("sum via put:", ray.get(total.remote(data)))


# GPUs: each task sees exactly its ids in CUDA_VISIBLE_DEVICES.
@ray.remote(num_gpus=1)
def which_gpu():
    return ray.get_gpu_ids(), os.environ["CUDA_VISIBLE_DEVICES"]


@ray.remote(num_gpus=0.5)
def half_gpu():
    return os.environ["CUDA_VISIBLE_DEVICES"]


@ray.remote
def no_gpu():
    return os.environ["CUDA_VISIBLE_DEVICES"]


print("whole-GPU tasks:", ray.get([which_gpu.remote() for _ in range(4)]))
print("half-GPU tasks:", ray.get([half_gpu.remote() for _ in range(2)]))
print("CPU task sees CUDA_VISIBLE_DEVICES =", repr(ray.get(no_gpu.remote())))

# Placement groups: reserve bundles atomically, then run inside them.
pg = placement_group([{"CPU": 1, "GPU": 2}, {"CPU": 1}])
pg.wait(10)
in_bundle = which_gpu.options(scheduling_strategy=PlacementGroupSchedulingStrategy(pg, 0))
print("task in bundle 0:", ray.get(in_bundle.remote()))
print("available while the group is held:", ray.available_resources())
remove_placement_group(pg)  # give its CPUs and GPUs back

# Errors: a remote exception is also its original type, with the remote traceback.
@ray.remote
def fails():
    raise ValueError("bad input")


try:
    ray.get(fails.remote())
except ValueError as e:
    print("caught:", str(e).splitlines()[0])

# Fail fast: a request this node can never satisfy raises at once.
try:
    ray.remote(num_gpus=8)(lambda: None).remote()
except ray.exceptions.TaskUnschedulableError as e:
    print("unschedulable:", e)

ray.shutdown()
print("done")
