"""Seed 000, "How to leverage GPUs?": each GPU trial sees its own CUDA_VISIBLE_DEVICES.

Run: python examples/tune/gpus.py   (pretend GPUs: init(num_gpus=8) works without any)
"""

import os

import greenroom as ray
from greenroom import tune

ray.init(num_cpus=4, num_gpus=8)


def trainable(config):
    tune.report({"visible": os.environ["CUDA_VISIBLE_DEVICES"]})


common = dict(verbose=0)
# With 8 GPUs, this runs 8 trials at once.
a = tune.run(trainable, num_samples=10, resources_per_trial={"gpu": 1}, **common)
print("gpu trials saw:", sorted(t.last_result["visible"] for t in a.trials))
# 4 CPUs and {"cpu": 2, "gpu": 1}: 2 at a time here (1 on a machine with 1 GPU).
tune.run(trainable, num_samples=4, resources_per_trial={"cpu": 2, "gpu": 1}, **common)
# Without "gpu", CUDA_VISIBLE_DEVICES is empty: no GPU access.
b = tune.run(trainable, num_samples=2, **common)
print("cpu trials saw:", [t.last_result["visible"] for t in b.trials])
# Distributed-style request with a PlacementGroupFactory.
tune.run(trainable, num_samples=2, resources_per_trial=tune.PlacementGroupFactory([{"CPU": 2, "GPU": 1}]), **common)
print("done")
ray.shutdown()
