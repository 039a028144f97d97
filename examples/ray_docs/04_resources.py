"""Resources: node resources in init(), per-task and per-actor requirements, custom resources."""

import greenroom as ray

# A node with 3 logical CPUs, 4 logical GPUs and two custom resources.
ray.init(num_cpus=3, num_gpus=4, resources={"special_hardware": 1, "custom_label": 1})

total = ray.cluster_resources()
assert total["CPU"] == 3 and total["GPU"] == 4
assert total["special_hardware"] == 1 and total["custom_label"] == 1


@ray.remote(num_cpus=1, num_gpus=1)
def uses_gpu():
    return len(ray.get_gpu_ids())


@ray.remote(resources={"special_hardware": 1})
def needs_special_hardware():
    return ray.get_runtime_context().get_assigned_resources()


@ray.remote(num_cpus=2)
class Actor:
    def ping(self):
        return "pong"


assert ray.get(uses_gpu.remote()) == 1
assert ray.get(uses_gpu.options(num_gpus=2).remote()) == 2
assigned = ray.get(needs_special_hardware.remote())
assert assigned.get("special_hardware") == 1
actor = Actor.remote()
assert ray.get(actor.ping.remote()) == "pong"
assert ray.available_resources()["CPU"] == 1  # the actor holds its 2 CPUs while it lives

ray.shutdown()
print("ok")
