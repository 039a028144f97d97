"""Seed 000, "How to limit concurrency?": ConcurrencyLimiter and max_concurrent_trials.

Run: python examples/tune/concurrency.py
"""

import greenroom as ray
from greenroom import tune
from greenroom.tune.schedulers import AsyncHyperBandScheduler
from greenroom.tune.search import ConcurrencyLimiter
from greenroom.tune.search.optuna import OptunaSearch

ray.init(num_cpus=4)


def objective(config):
    for step in range(10):
        tune.report({"loss": (config["x"] - 3) ** 2 + 1 / (step + 1)})


space = {"x": tune.uniform(-10, 10)}
try:
    # Seed 000 uses BayesOptSearch(utility_kwargs={"kind": "ucb", "kappa": 2.5, "xi": 0.0});
    # it needs `pip install bayesian-optimization`.
    from greenroom.tune.search.bayesopt import BayesOptSearch

    algo = BayesOptSearch(utility_kwargs={"kind": "ucb", "kappa": 2.5, "xi": 0.0})
except ImportError:
    algo = OptunaSearch()  # needs `pip install optuna`
algo = ConcurrencyLimiter(algo, max_concurrent=4)
scheduler = AsyncHyperBandScheduler()
analysis = tune.run(objective, config=space, metric="loss", mode="min", search_alg=algo,
                    scheduler=scheduler, num_samples=12, verbose=0)
print("best x:", round(analysis.best_config["x"], 2))

# Or let tune.run wrap the search algorithm for you:
tune.run(objective, config=space, metric="loss", mode="min", num_samples=8,
         max_concurrent_trials=2, verbose=0)
print("done")
ray.shutdown()
