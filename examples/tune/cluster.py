"""Seed 000, "How to run distributed tuning on a cluster?": call init() before tune.run.

On one machine init() starts greenroom here; pointing init(address=...) at a Ray
cluster is the road to scale out (see the README).

Run: python examples/tune/cluster.py
"""

import greenroom as ray
from greenroom import tune

ray.init(num_cpus=4, num_gpus=2)


def trainable(config):
    tune.report({"done_on": ray.get_gpu_ids()})


# Connect to an existing cluster (here: this machine) and run with a PlacementGroupFactory.
analysis = tune.run(trainable, num_samples=4, verbose=0,
                    resources_per_trial=tune.PlacementGroupFactory([{"CPU": 2, "GPU": 1}]))
print([t.last_result["done_on"] for t in analysis.trials])
ray.shutdown()
