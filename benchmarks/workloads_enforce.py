"""Enforcement workloads (W10): thread pools on 2 CPUs, a noisy neighbour and pinning, the memory monitor.

Each variant starts its own runtime (the limits are set at ``init``). Ray runs
the same tasks with its own defaults: it sets OMP_NUM_THREADS to a task's CPUs
(the "limited" variant) and the unlimited variant gives each task 2 threads
through its runtime_env; Ray has no pinning or memory limits, so those figures
are greenroom's only.
"""

from __future__ import annotations

import os
import statistics
import threading
import time

from harness import NUM_CPUS, workload

ENFORCE_LIBS = ("greenroom", "ray")


def matmuls(size: int, times: int, threads: int | None = None) -> tuple[float, int]:
    """``times`` products of two ``size`` x ``size`` matrices: (seconds, BLAS threads used).
    ``threads`` forces the pool size (a library that ignores the task's CPUs)."""
    import numpy as np
    import threadpoolctl

    if threads is not None:
        threadpoolctl.threadpool_limits(threads)
    a = np.random.default_rng(0).random((size, size))
    blas = [i["num_threads"] for i in threadpoolctl.threadpool_info() if i["user_api"] == "blas"]
    used = max(blas, default=1)
    t0 = time.perf_counter()
    for _ in range(times):
        a @ a
    return time.perf_counter() - t0, used


def start(lib: str, **options):
    ray = __import__(lib)
    if lib == "ray":
        unlimited = options.pop("_enforce", None) is False
        options = {"runtime_env": {"env_vars": {"OMP_NUM_THREADS": str(NUM_CPUS)}}} if unlimited else {}
    ray.init(num_cpus=NUM_CPUS, include_dashboard=False, **options)
    return ray


def pair_wall(ray, size: int, times: int) -> tuple[float, float]:
    """Two 1-CPU matmul tasks at once (after a warm-up pair): (wall seconds, threads per CPU)."""
    task = ray.remote(num_cpus=1)(matmuls)
    ray.get([task.remote(64, 1) for _ in range(NUM_CPUS)])  # workers up, numpy loaded
    t0 = time.perf_counter()
    results = ray.get([task.remote(size, times) for _ in range(NUM_CPUS)])
    return time.perf_counter() - t0, sum(used for _, used in results) / NUM_CPUS


@workload("enforce_matmul", "W10", libs=ENFORCE_LIBS, n=512, n_quick=256)
def enforce_matmul(lib: str, n: int, reps: int, spawned_at: float = 0.0):
    """2 one-CPU numpy-matmul tasks on 2 CPUs: wall time and oversubscription (BLAS threads per CPU),
    with the thread limits (greenroom's default; Ray's OMP_NUM_THREADS) and without."""
    times = max(4, (2048 // n) ** 3 * 4)
    out = {}
    for name, options in (("limited", {}), ("unlimited", {"_enforce": False})):
        runs = []
        for _ in range(reps):
            ray = start(lib, **options)
            try:
                runs.append(pair_wall(ray, n, times))
            finally:
                ray.shutdown()
        out[f"{name}_wall"] = (statistics.median(r[0] for r in runs), "s")
        out[f"{name}_threads_per_cpu"] = (statistics.median(r[1] for r in runs), "x")
    return out


def noisy_neighbour(size: int, times: int, ready: str, release: str) -> int:
    """A 1-CPU task that runs 2 BLAS threads regardless, until ``release`` exists."""
    with open(ready, "w"):
        pass
    rounds = 0
    while not os.path.exists(release):
        matmuls(size, times, threads=NUM_CPUS)
        rounds += 1
    return rounds


@workload("enforce_neighbour", "W10", libs=("greenroom",), n=512, n_quick=256)
def enforce_neighbour(lib: str, n: int, reps: int, spawned_at: float = 0.0):
    """A 1-CPU matmul task's time alone, beside a neighbour that runs 2 threads on its 1 CPU, and
    the same with pinning (init(cpu_affinity=True)): the neighbour's threads stay on its core."""
    import tempfile

    times = max(4, (2048 // n) ** 3 * 2)
    out = {}
    variants = (("alone", {}, False), ("noisy", {}, True), ("noisy_pinned", {"cpu_affinity": True}, True))
    for name, options, noisy in variants:
        runs = []
        for _ in range(reps):
            ray = start(lib, **options)
            victim = ray.remote(num_cpus=1)(matmuls)
            neighbour = ray.remote(num_cpus=1)(noisy_neighbour)
            scratch = tempfile.mkdtemp()
            ready, release = os.path.join(scratch, "ready"), os.path.join(scratch, "release")
            try:
                ray.get(victim.remote(64, 1))
                running = None
                if noisy:
                    running = neighbour.remote(n, 2, ready, release)
                    deadline = time.monotonic() + 30
                    while not os.path.exists(ready) and time.monotonic() < deadline:
                        threading.Event().wait(0.01)  # the neighbour's start has no other signal here
                runs.append(ray.get(victim.remote(n, times))[0])
                if running is not None:
                    open(release, "w").close()
                    ray.get(running)
            finally:
                ray.shutdown()
        out[f"victim_{name}"] = (statistics.median(runs), "s")
    return out


def round_trips(ray, k: int) -> float:
    f = ray.remote(lambda x: x)
    ray.get(f.remote(0))
    lat = []
    for i in range(k):
        t0 = time.perf_counter()
        ray.get(f.remote(i))
        lat.append(time.perf_counter() - t0)
    return statistics.median(lat) * 1e6


def held_memory(seconds: float) -> int:
    held = b"\x01" * (32 << 20)
    time.sleep(seconds)  # a task that holds memory for a while, watched all along
    return len(held)


@workload("enforce_memory_watch", "W10", libs=("greenroom",), n=2_000, n_quick=300)
def enforce_memory_watch(lib: str, n: int, reps: int, spawned_at: float = 0.0):
    """The memory monitor's cost: one look (median, µs) while 2 tasks with memory= run, and the W3 round
    trip with the monitor on (default, every 100 ms) and off (_memory_monitor_refresh_ms=0)."""
    ray = start(lib)
    try:
        watched = ray.remote(num_cpus=1, memory=256 << 20)(held_memory)
        ray.get([watched.remote(2.0) for _ in range(NUM_CPUS)])
        look_us = ray.runtime.state.current().node.memory.stats()["median_look_s"] * 1e6
        on = statistics.median(round_trips(ray, n) for _ in range(reps))
    finally:
        ray.shutdown()
    ray = start(lib, _memory_monitor_refresh_ms=0)
    try:
        off = statistics.median(round_trips(ray, n) for _ in range(reps))
    finally:
        ray.shutdown()
    return {
        "look": (look_us, "us"),
        "round_trip_monitor_on": (on, "us"),
        "round_trip_monitor_off": (off, "us"),
    }
