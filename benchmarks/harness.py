"""The workload registry and what every workload shares, run inside the child process.

A workload is ``fn(lib, n, reps, spawned_at=0.0) -> {metric: (value, unit)}``,
registered with ``@workload(...)``. ``lib`` is "greenroom", "ray" (the same code:
greenroom is imported as ray), "pool" (a ProcessPoolExecutor) or "raw" (no
runtime: the machine's own floor). ``repeat`` warms up, then takes per-metric
medians; ``latencies`` gives the median and p99 of sequential calls.
"""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass

NUM_CPUS = 2
LIBS = ("greenroom", "ray", "pool", "raw")
RUNTIMES = ("greenroom", "ray", "pool")
# rates, fractions and yes/no figures; every other unit (s, ms, us, MB) is lower-is-better
HIGHER_IS_BETTER = {"tasks/s", "calls/s", "trials/s", "GB/s", "fraction", "bool"}

FLOATS_PER_MB = 125_000  # float64 elements in 1 MB (1e6 bytes)

Metrics = dict[str, tuple[float, str]]


@dataclass(frozen=True)
class Workload:
    fn: Callable[..., Metrics]
    group: str  # the workload number (W1..W10), a scale curve (S1..S7) or "raw": the table is ordered by it
    libs: tuple[str, ...]
    n: int  # the workload's size in a full run
    n_quick: int  # ... and with --quick
    fresh_per_rep: bool  # True: each repetition is its own child (what it measures is process start)


WORKLOADS: dict[str, Workload] = {}


def workload(
    name: str, group: str, libs: tuple[str, ...], n: int = 0, n_quick: int = 0, fresh_per_rep: bool = False
):
    """Register ``fn(lib, n, reps, spawned_at=0.0) -> {metric: (value, unit)}``, run inside a child process."""

    def register(fn):
        WORKLOADS[name] = Workload(fn, group, libs, n, n_quick, fresh_per_rep)
        return fn

    return register


def repeat(once: Callable[[int], Metrics], n: int, reps: int) -> Metrics:
    """Warm up with ``once(n // 10)`` (workers started, function shipped), then the
    per-metric median of ``reps`` runs of ``once(n)``."""
    once(max(1, n // 10))
    return median_of([once(n) for _ in range(reps)])


def median_of(runs: list[Metrics]) -> Metrics:
    """Per-metric median of several runs' results (metrics and units from the first)."""
    return {m: (statistics.median(r[m][0] for r in runs), unit) for m, (_, unit) in runs[0].items()}


def latency_stats(lat_us: list[float]) -> Metrics:
    """Median and p99 of per-call latencies in microseconds."""
    lat = sorted(lat_us)
    return {
        "median": (statistics.median(lat), "us"),
        "p99": (lat[min(len(lat) - 1, int(0.99 * len(lat)))], "us"),
    }


def latencies(call: Callable[[int], object], k: int) -> Metrics:
    """Median and p99 of ``k`` sequential calls, in microseconds."""
    lat = []
    for i in range(k):
        t0 = time.perf_counter()
        call(i)
        lat.append((time.perf_counter() - t0) * 1e6)
    return latency_stats(lat)


def init_lib(lib: str):
    """Import greenroom or ray and start it on NUM_CPUS worker CPUs: the same line for both.
    With $BENCH_ADDRESS (benchmarks/attached.py), attach to the running node there instead."""
    ray = __import__(lib)
    start(ray)
    return ray


def start(ray) -> None:
    """``init()`` as every workload calls it (see init_lib)."""
    address = os.environ.get("BENCH_ADDRESS")
    if address:
        ray.init(address=address)
    else:
        ray.init(num_cpus=NUM_CPUS, include_dashboard=False)


def noop(x):
    return x


class Runtime:
    """One way to submit ``fn`` and fetch for each library, so each task workload is written once."""

    def __init__(self, lib: str, fn: Callable = noop):
        self.lib, self.fn = lib, fn
        if lib == "pool":
            from concurrent.futures import ProcessPoolExecutor

            self.pool = ProcessPoolExecutor(NUM_CPUS)
        else:
            self.ray = init_lib(lib)
            self.remote_fn = self.ray.remote(fn)

    def submit(self, x):
        return self.pool.submit(self.fn, x) if self.lib == "pool" else self.remote_fn.remote(x)

    def get(self, handles: list) -> list:
        if self.lib == "pool":
            return [h.result() for h in handles]
        return self.ray.get(handles)

    def batch(self, k: int) -> float:
        """Submit ``k`` calls, then fetch them all; the seconds it took."""
        t0 = time.perf_counter()
        assert len(self.get([self.submit(i) for i in range(k)])) == k
        return time.perf_counter() - t0

    def shutdown(self) -> None:
        self.pool.shutdown() if self.lib == "pool" else self.ray.shutdown()
