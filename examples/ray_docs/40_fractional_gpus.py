"""Fractional GPUs: four 0.25-GPU tasks or actors share one GPU."""

import time

import greenroom as ray

ray.init(num_cpus=4, num_gpus=1)


@ray.remote(num_gpus=0.25)
def f():
    start = time.time()
    time.sleep(1)
    return ray.get_gpu_ids(), start, time.time()


# The four tasks created here can execute concurrently and share the same GPU.
results = ray.get([f.remote() for _ in range(4)])
assert [ids for ids, _, _ in results] == [[0]] * 4
assert max(s for _, s, _ in results) < min(e for _, _, e in results), "the 0.25-GPU tasks did not overlap"


@ray.remote(num_gpus=0.25)
class FractionalGPUActor:
    def ping(self):
        return ray.get_gpu_ids()


fractional_gpu_actors = [FractionalGPUActor.remote() for _ in range(3)]
# Ray packs the fractional actors onto the same GPU.
assert ray.get([actor.ping.remote() for actor in fractional_gpu_actors]) == [[0]] * 3

ray.shutdown()
print("ok")
