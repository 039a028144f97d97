"""Scale curves of actors, Tune and placement groups (S4, S6, S7).

Each figure at three sizes a factor of 10 apart (see ``scale.py``), per item.
Ray runs smaller sizes where its per-item cost would take the run past minutes.
"""

from __future__ import annotations

import importlib
import shutil
import tempfile
import time

from harness import NUM_CPUS, init_lib, workload
from scale import curve, processes, pss_mb, settle_processes, sizes
from workloads_actors import Echo

ACTOR_CALLS = 5_000  # calls spread over all the actors of a size, pipelined


@workload("scale_actors", "S4", libs=("greenroom", "ray"), n=500, n_quick=50)
def scale_actors(lib: str, n: int, reps: int, spawned_at: float = 0.0):
    """n actors: ``create`` (all created, each answered its first call) per actor (ms),
    ``pss_per_actor`` while idle (MB of the whole process tree), and ``calls_per_s``
    over 5,000 calls spread over all of them. Ray: 2 and 20 actors (each takes ~0.5 s
    to start there, and ~100 MB)."""
    ray = init_lib(lib)
    cls = ray.remote(Echo)

    def once(k):
        base = processes()
        m0 = pss_mb()
        t0 = time.perf_counter()
        actors = [cls.remote() for _ in range(k)]
        ray.get([a.echo.remote(0) for a in actors])
        t1 = time.perf_counter()
        m1 = pss_mb()
        per = max(1, ACTOR_CALLS // k)
        t2 = time.perf_counter()
        assert len(ray.get([a.echo.remote(i) for i in range(per) for a in actors])) == per * k
        t3 = time.perf_counter()
        for a in actors:
            ray.kill(a)
        del actors
        settle_processes(base)
        return {
            "create": ((t1 - t0) / k * 1e3, "ms"),
            "pss_per_actor": ((m1 - m0) / k, "MB"),
            "calls_per_s": (per * k / (t3 - t2), "calls/s"),
        }

    ns = [2, 20] if lib == "ray" else sizes(lib, n)
    try:
        return curve(once, [s for s in ns if s <= n] or [ns[0]], reps)
    finally:
        ray.shutdown()


TUNE_ITERS = 4


def _asha_trial(config):
    tune = importlib.import_module(config["lib"] + ".tune")
    for i in range(1, TUNE_ITERS + 1):
        tune.report({"score": i * config["x"]})


@workload("scale_tune", "S6", libs=("greenroom", "ray"), n=1_000, n_quick=100)
def scale_tune(lib: str, n: int, reps: int, spawned_at: float = 0.0):
    """tune.run of n trivial trials under ASHA (4 reports each at most, 1 CPU each):
    ``per_trial`` (ms) and ``per_result``, the wall time per result reported (µs: the
    controller's cost, the trials do nothing). Ray: 1 and 10 trials (~1.4 s each there)."""
    ray = init_lib(lib)
    tune = importlib.import_module(lib + ".tune")
    asha = importlib.import_module(lib + ".tune.schedulers").ASHAScheduler
    storage = tempfile.mkdtemp(prefix="bench-scale-tune-")

    def once(k):
        scheduler = asha(metric="score", mode="max", max_t=TUNE_ITERS, grace_period=1, reduction_factor=2)
        config = {"lib": lib, "x": tune.uniform(0, 1)}
        t0 = time.perf_counter()
        analysis = tune.run(_asha_trial, config=config, num_samples=k, scheduler=scheduler,
                            verbose=0, storage_path=storage)  # fmt: skip
        elapsed = time.perf_counter() - t0
        results = sum(t.last_result.get("training_iteration", 0) for t in analysis.trials) or k * TUNE_ITERS
        return {"per_trial": (elapsed / k * 1e3, "ms"), "per_result": (elapsed / results * 1e6, "us")}

    ns = [1, 10] if lib == "ray" else sizes(lib, n)
    try:
        return curve(once, ns, reps)
    finally:
        ray.shutdown()
        shutil.rmtree(storage, ignore_errors=True)


def _cpus_back(ray, deadline_s: float = 30.0) -> None:
    """Wait until every CPU is available again (Ray removes placement groups asynchronously)."""
    end = time.monotonic() + deadline_s
    while ray.available_resources().get("CPU", 0) < NUM_CPUS - 1e-6 and time.monotonic() < end:
        time.sleep(0.001)


@workload("scale_placement_groups", "S7", libs=("greenroom", "ray"), n=1_000, n_quick=100)
def scale_placement_groups(lib: str, n: int, reps: int, spawned_at: float = 0.0):
    """n placement groups of one {"CPU": 0.001} bundle: ``create`` (all created and
    ready) and ``remove`` (all removed, their CPU available again) per group (ms)."""
    ray = init_lib(lib)
    pgs_mod = importlib.import_module(lib + ".util.placement_group")

    def once(k):
        t0 = time.perf_counter()
        pgs = [pgs_mod.placement_group([{"CPU": 0.001}]) for _ in range(k)]
        ray.get([pg.ready() for pg in pgs])
        t1 = time.perf_counter()
        for pg in pgs:
            pgs_mod.remove_placement_group(pg)
        _cpus_back(ray)
        t2 = time.perf_counter()
        return {"create": ((t1 - t0) / k * 1e3, "ms"), "remove": ((t2 - t1) / k * 1e3, "ms")}

    try:
        return curve(once, sizes(lib, n), reps)
    finally:
        ray.shutdown()
