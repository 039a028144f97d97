"""Train workloads: W9, distributed training with TorchTrainer, alone and in Tune trials.

The same code runs for greenroom and Ray (``lib`` is the module name); the
training loop imports ``<lib>.train`` itself. Workers hold 0.5 CPU each, so a
trainer of 2 workers fits the suite's 2 worker CPUs beside Ray Train V1's
coordinator CPU (``fit()``), and two Tune trials of 2 workers run at once.
Needs torch in both.
"""

from __future__ import annotations

import importlib
import os
import shutil
import statistics
import tempfile
import time
import uuid

from harness import init_lib, repeat, workload

TRAIN_LIBS = ("greenroom", "ray")


def first_report_loop(config):
    """Report at once: what comes before it is the worker group and its process group."""
    import time

    train = importlib.import_module(config["lib"] + ".train")
    train.report({"t": time.time()})


def _modules(lib: str):
    return (importlib.import_module(lib + ".train"), importlib.import_module(lib + ".train.torch"))


@workload("train_first_report", "W9", libs=TRAIN_LIBS, n=5, n_quick=1)
def train_first_report(lib: str, n: int, reps: int, spawned_at: float = 0.0):
    """TorchTrainer with 2 gloo workers: the time from fit() to rank 0's first report (process group
    set-up included), and fit() to its return; ``cold_``: the child's first fit (torch not yet loaded)."""
    ray = init_lib(lib)
    train, torch_train = _modules(lib)
    storage = tempfile.mkdtemp(prefix="bench-train-")

    def fit() -> tuple[float, float]:
        trainer = torch_train.TorchTrainer(
            first_report_loop, train_loop_config={"lib": lib},
            scaling_config=train.ScalingConfig(num_workers=2, resources_per_worker={"CPU": 0.5}),
            run_config=train.RunConfig(storage_path=storage, name=f"fit-{uuid.uuid4().hex[:8]}"),
        )  # fmt: skip
        t0 = time.time()
        result = trainer.fit()
        return result.metrics["t"] - t0, time.time() - t0

    def once(k):
        runs = [fit() for _ in range(k)]
        return {
            "fit_to_first_report": (statistics.median(r[0] for r in runs), "s"),
            "fit_total": (statistics.median(r[1] for r in runs), "s"),
        }

    try:
        cold_first, cold_total = fit()
        out = repeat(once, n, reps)
        return {"cold_fit_to_first_report": (cold_first, "s"), "cold_fit_total": (cold_total, "s"), **out}
    finally:
        ray.shutdown()
        shutil.rmtree(storage, ignore_errors=True)


def tune_loop(config):
    train = importlib.import_module(config["lib"] + ".train")
    for i in range(3):
        train.report({"loss": config["x"] + 1.0 / (i + 1)})


@workload("tune_trainers", "W9", libs=TRAIN_LIBS, n=4, n_quick=4)
def tune_trainers(lib: str, n: int, reps: int, spawned_at: float = 0.0):
    """Tuner(TorchTrainer) with n trials x 2 workers (3 reports each), two trials at a time:
    fit() to its return."""
    os.environ.setdefault("RAY_TRAIN_V2_ENABLED", "0")  # Tuner(trainer) is Ray Train V1's pattern
    ray = init_lib(lib)
    train, torch_train = _modules(lib)
    tune = importlib.import_module(lib + ".tune")
    run_config_cls = getattr(tune, "RunConfig", train.RunConfig)
    storage = tempfile.mkdtemp(prefix="bench-tune-train-")

    def once(k):
        trainer = torch_train.TorchTrainer(
            tune_loop,
            scaling_config=train.ScalingConfig(num_workers=2, resources_per_worker={"CPU": 0.5},
                                               trainer_resources={"CPU": 0}),
        )  # fmt: skip
        tuner = tune.Tuner(
            trainer,
            param_space={"train_loop_config": {"lib": lib, "x": tune.grid_search(list(range(k)))}},
            tune_config=tune.TuneConfig(metric="loss", mode="min"),
            run_config=run_config_cls(storage_path=storage, name=f"tune-{uuid.uuid4().hex[:8]}", verbose=0),
        )  # fmt: skip
        t0 = time.time()
        grid = tuner.fit()
        elapsed = time.time() - t0
        if grid.num_errors:
            raise RuntimeError(f"{grid.num_errors} trial(s) failed: {grid.errors[0]}")
        return {f"tuner_{n}x2_total": (elapsed, "s")}

    try:
        return repeat(once, n, reps)
    finally:
        ray.shutdown()
        shutil.rmtree(storage, ignore_errors=True)
