"""Task workloads: W1 cold start, W2 throughput (no-op and 1 ms tasks), W3 task round trip."""

from __future__ import annotations

import time

from harness import NUM_CPUS, RUNTIMES, Runtime, latencies, noop, repeat, start, workload

SLEEP_S = 0.001


def sleep_1ms(x):
    time.sleep(SLEEP_S)
    return x


@workload("cold_start", "W1", libs=("greenroom", "ray"), fresh_per_rep=True)
def cold_start(lib: str, n: int, reps: int, spawned_at: float = 0.0):
    """Fresh interpreter -> import -> init -> first remote result; then shutdown."""
    t0 = time.perf_counter()
    ray = __import__(lib)
    t1 = time.perf_counter()
    start(ray)
    t2 = time.perf_counter()
    assert ray.get(ray.remote(noop).remote(1)) == 1
    t3 = time.perf_counter()
    first_result = time.time() - spawned_at  # wall clock, shared with the parent: includes interpreter start
    ray.shutdown()
    t4 = time.perf_counter()
    return {
        "first_result": (first_result, "s"),
        "import": (t1 - t0, "s"),
        "init": (t2 - t1, "s"),
        "first_task": (t3 - t2, "s"),
        "shutdown": (t4 - t3, "s"),
    }


@workload("throughput", "W2", libs=RUNTIMES, n=10_000, n_quick=1_000)
def throughput(lib: str, n: int, reps: int, spawned_at: float = 0.0):
    """Submit ``n`` no-op tasks, then fetch them all with one get."""
    rt = Runtime(lib)
    try:
        return repeat(lambda k: {"tasks_per_s": (k / rt.batch(k), "tasks/s")}, n, reps)
    finally:
        rt.shutdown()


@workload("sleep_tasks", "W2", libs=RUNTIMES, n=1_000, n_quick=200)
def sleep_tasks(lib: str, n: int, reps: int, spawned_at: float = 0.0):
    """``n`` tasks of a 1 ms sleep: tasks/s, and efficiency = ideal time (n x 1 ms / 2 workers) / measured."""
    rt = Runtime(lib, sleep_1ms)

    def once(k):
        elapsed = rt.batch(k)
        return {
            "tasks_per_s": (k / elapsed, "tasks/s"),
            "efficiency": (k * SLEEP_S / NUM_CPUS / elapsed, "fraction"),
        }

    try:
        return repeat(once, n, reps)
    finally:
        rt.shutdown()


@workload("round_trip", "W3", libs=RUNTIMES, n=1_000, n_quick=200)
def round_trip(lib: str, n: int, reps: int, spawned_at: float = 0.0):
    """``n`` sequential get(f.remote(x)): median and p99 latency."""
    rt = Runtime(lib)
    try:
        return repeat(lambda k: latencies(lambda i: rt.get([rt.submit(i)]), k), n, reps)
    finally:
        rt.shutdown()
