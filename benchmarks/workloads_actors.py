"""Actor workloads: W4 actor round trip, W5 pipelined calls, W7 Tune trials, W8 memory."""

from __future__ import annotations

import shutil
import statistics
import tempfile
import time

from harness import Runtime, init_lib, latencies, repeat, workload

ACTOR_LIBS = ("greenroom", "ray")


class Echo:
    def echo(self, x):
        return x


class AsyncEcho:
    async def echo(self, x):
        return x


@workload("actor_create", "W4", libs=ACTOR_LIBS, n=20, n_quick=5)
def actor_create(lib: str, n: int, reps: int, spawned_at: float = 0.0):
    """Create an actor and get its first call's result; median per actor."""
    ray = init_lib(lib)
    cls = ray.remote(Echo)

    def once(k):
        times = []
        for _ in range(k):
            t0 = time.perf_counter()
            a = cls.remote()
            ray.get(a.echo.remote(1))
            times.append(time.perf_counter() - t0)
            ray.kill(a)
        return {"create_to_first_call": (statistics.median(times) * 1e3, "ms")}

    try:
        return repeat(once, n, reps)
    finally:
        ray.shutdown()


@workload("actor_round_trip", "W4", libs=ACTOR_LIBS, n=2_000, n_quick=200)
def actor_round_trip(lib: str, n: int, reps: int, spawned_at: float = 0.0):
    """``n`` sequential get(a.echo.remote(x)) on a sync actor: median and p99."""
    ray = init_lib(lib)
    a = ray.remote(Echo).remote()
    try:
        return repeat(lambda k: latencies(lambda i: ray.get(a.echo.remote(i)), k), n, reps)
    finally:
        ray.shutdown()


def pipelined_calls(ray, actor, k: int) -> float:
    """Submit ``k`` calls to ``actor``, then fetch them all; calls per second."""
    t0 = time.perf_counter()
    assert len(ray.get([actor.echo.remote(i) for i in range(k)])) == k
    return k / (time.perf_counter() - t0)


def _pipelined(lib: str, n: int, reps: int, cls: type):
    ray = init_lib(lib)
    a = ray.remote(cls).remote()
    try:
        return repeat(lambda k: {"calls_per_s": (pipelined_calls(ray, a, k), "calls/s")}, n, reps)
    finally:
        ray.shutdown()


@workload("actor_pipelined", "W5", libs=ACTOR_LIBS, n=20_000, n_quick=2_000)
def actor_pipelined(lib: str, n: int, reps: int, spawned_at: float = 0.0):
    """``n`` calls submitted to a sync actor, then all fetched."""
    return _pipelined(lib, n, reps, Echo)


@workload("async_actor_pipelined", "W5", libs=ACTOR_LIBS, n=20_000, n_quick=2_000)
def async_actor_pipelined(lib: str, n: int, reps: int, spawned_at: float = 0.0):
    """``n`` calls submitted to an async actor, then all fetched."""
    return _pipelined(lib, n, reps, AsyncEcho)


def _trivial_trial(config):
    from importlib import import_module

    import_module(config["lib"] + ".tune").report({"score": 1})


@workload("tune_trials", "W7", libs=ACTOR_LIBS, n=200, n_quick=20)
def tune_trials(lib: str, n: int, reps: int, spawned_at: float = 0.0):
    """tune.run of n trivial trials, 1 CPU each (Ray runs at most 20: each takes seconds there)."""
    ray = init_lib(lib)
    tune = __import__(lib + ".tune", fromlist=["tune"])
    storage = tempfile.mkdtemp(prefix="bench-tune-")

    def once(k):
        t0 = time.perf_counter()
        tune.run(_trivial_trial, config={"lib": lib}, num_samples=k, verbose=0, storage_path=storage)
        return {"trials_per_s": (k / (time.perf_counter() - t0), "trials/s")}

    try:
        return repeat(once, min(n, 20) if lib == "ray" else n, reps)
    finally:
        ray.shutdown()
        shutil.rmtree(storage, ignore_errors=True)


def _pss_bytes(proc) -> int:
    """Proportional set size: from psutil where it has it, else /proc/<pid>/smaps_rollup."""
    pss = getattr(proc.memory_full_info(), "pss", None)
    if pss is not None:
        return pss
    with open(f"/proc/{proc.pid}/smaps_rollup") as f:
        return next(int(line.split()[1]) * 1024 for line in f if line.startswith("Pss:"))


def tree_memory(prefix: str) -> dict[str, tuple[float, str]]:
    """Summed RSS and PSS, in MB, of this process and all its descendants."""
    import psutil

    me = psutil.Process()
    rss = pss = 0
    for proc in [me, *me.children(recursive=True)]:
        try:
            rss += proc.memory_info().rss
            pss += _pss_bytes(proc)
        except (psutil.NoSuchProcess, psutil.AccessDenied, FileNotFoundError):
            continue  # it exited while we walked the tree
    return {f"{prefix}_rss": (rss / 1e6, "MB"), f"{prefix}_pss": (pss / 1e6, "MB")}


@workload("memory", "W8", libs=("greenroom", "ray", "pool"), n=20_000, n_quick=2_000, fresh_per_rep=True)
def memory(lib: str, n: int, reps: int, spawned_at: float = 0.0):
    """RSS and PSS of the driver and all its descendants: idle after init and a first
    task, then after the W5 workload (``n`` pipelined calls on a sync actor, not for pool)."""
    rt = Runtime(lib)
    try:
        rt.get([rt.submit(0)])
        out = tree_memory("idle")
        if lib != "pool":
            pipelined_calls(rt.ray, rt.ray.remote(Echo).remote(), n)
            out.update(tree_memory("after_pipelined"))
        return out
    finally:
        rt.shutdown()
