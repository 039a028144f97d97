"""GPUs: num_gpus on actors and tasks, each sees its own ids in get_gpu_ids and CUDA_VISIBLE_DEVICES."""

import os

import greenroom as ray

ray.init(num_cpus=2, num_gpus=2)


@ray.remote(num_gpus=1)
class GPUActor:
    def ping(self):
        ids = ray.get_runtime_context().get_accelerator_ids()["GPU"]
        print("GPU IDs: {}".format(ids))
        print("CUDA_VISIBLE_DEVICES: {}".format(os.environ["CUDA_VISIBLE_DEVICES"]))
        return ids, ray.get_gpu_ids(), os.environ["CUDA_VISIBLE_DEVICES"]


@ray.remote(num_gpus=1)
def gpu_task():
    ids = ray.get_runtime_context().get_accelerator_ids()["GPU"]
    return ids, ray.get_gpu_ids(), os.environ["CUDA_VISIBLE_DEVICES"]


gpu_actor = GPUActor.remote()
actor_ids, actor_gpu_ids, actor_cvd = ray.get(gpu_actor.ping.remote())
assert actor_ids == ["0"] and actor_gpu_ids == [0] and actor_cvd == "0"

# The actor uses the first GPU so the task uses the second one.
task_ids, task_gpu_ids, task_cvd = ray.get(gpu_task.remote())
assert task_ids == ["1"] and task_gpu_ids == [1] and task_cvd == "1"


@ray.remote
def cpu_task():
    return ray.get_gpu_ids()


assert ray.get(cpu_task.remote()) == []  # no GPU asked for, none assigned

ray.shutdown()
print("ok")
