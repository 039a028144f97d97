"""Seed 000, "A Guide To Parallelism and Resources": concurrency follows from resources.

Run: python examples/tune/parallelism.py
"""

import time

import greenroom as ray
from greenroom import tune

ray.init(num_cpus=4)  # a 4-CPU machine, as in the guide


def trainable(config):
    for i in range(3):
        time.sleep(0.05)
        tune.report({"score": config["x"] * i})


common = dict(config={"x": tune.uniform(0, 1)}, verbose=0)
# 4 CPUs: runs 4 concurrent trials at a time.
tune.run(trainable, num_samples=10, **common)
# 4 CPUs, {"cpu": 2}: 2 concurrent trials at a time.
tune.run(trainable, num_samples=10, resources_per_trial={"cpu": 2}, **common)
# 4 CPUs, {"cpu": 4}: 1 trial at a time.
tune.run(trainable, num_samples=10, resources_per_trial={"cpu": 4}, **common)
# Fractional values are also supported: {"cpu": 0.5} runs 8 at a time.
tune.run(trainable, num_samples=10, resources_per_trial={"cpu": 0.5}, **common)
# Memory (bytes) and custom resources too. greenroom enforces memory: a trial whose process
# holds more than this is killed with OutOfMemoryError, so ask for what it really uses.
tune.run(trainable, num_samples=4, resources_per_trial={"cpu": 1, "memory": 256 << 20}, **common)
print("done")
ray.shutdown()
