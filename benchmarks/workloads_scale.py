"""Scale curves of tasks and objects (S1-S3, S5): how cost per item grows with the number of items.

Each figure at three sizes a factor of 10 apart (see ``scale.py``), per item, so
a flat curve is linear cost. Run them with ``core.py --only scale``.
"""

from __future__ import annotations

import gc
import importlib
import time

from harness import NUM_CPUS, RUNTIMES, FLOATS_PER_MB, Runtime, init_lib, noop, workload
from scale import Gate, curve, hold_until, pss_mb, sizes

GET_WAIT_CALLS = 10_000  # a size-n get/wait is timed over max(1, this // n) calls: 1k refs take 0.1 ms


@workload("scale_tasks", "S1", libs=RUNTIMES, n=1_000_000, n_quick=10_000)
def scale_tasks(lib: str, n: int, reps: int, spawned_at: float = 0.0):
    """n no-op tasks queued behind 2 busy CPUs: ``submit`` and ``drain`` per task (µs),
    and the runtime's memory (PSS of the whole process tree) per pending task (bytes).
    Ray stops at 10k (its 100k drain alone takes ~80 s), the pool at 100k."""
    rt = Runtime(lib)
    hold = None if lib == "pool" else rt.ray.remote(hold_until)

    def block(path: str):
        return rt.pool.submit(hold_until, path) if lib == "pool" else hold.remote(path)

    def once(k):
        gate = Gate()
        blockers = [block(gate.path) for _ in range(NUM_CPUS)]
        m0 = pss_mb()
        t0 = time.perf_counter()
        handles = [rt.submit(i) for i in range(k)]
        t1 = time.perf_counter()
        m1 = pss_mb()
        gate.open()
        t2 = time.perf_counter()
        assert len(rt.get(handles)) == k
        t3 = time.perf_counter()
        rt.get(blockers)
        gate.close()
        return {
            "submit": ((t1 - t0) / k * 1e6, "us"),
            "drain": ((t3 - t2) / k * 1e6, "us"),
            "bytes_per_pending": (max(0.0, m1 - m0) * 1e6 / k, "B"),
        }

    try:
        return curve(once, sizes(lib, n, {"ray": 10_000, "pool": 100_000}), reps)
    finally:
        rt.shutdown()


def _timed_calls(call, n: int) -> float:
    """Mean ms of ``call()`` over enough calls that a small size is not all timer noise."""
    k = max(1, GET_WAIT_CALLS // n)
    t0 = time.perf_counter()
    for _ in range(k):
        call()
    return (time.perf_counter() - t0) / k * 1e3


@workload("scale_get_wait", "S2", libs=("greenroom", "ray"), n=100_000, n_quick=10_000)
def scale_get_wait(lib: str, n: int, reps: int, spawned_at: float = 0.0):
    """get and wait over n refs (ms per call): ready (no-op tasks' results): ``get_ready``,
    ``wait_all_ready`` (num_returns=n), ``wait_first_ready`` (num_returns=1); not ready
    (tasks whose argument never gets ready), timeout=0: ``wait_not_ready``, ``get_not_ready``."""
    ray = init_lib(lib)
    ns = sizes(lib, n)
    f = ray.remote(noop)
    ready = [f.remote(i) for i in range(ns[-1])]
    ray.get(ready)
    gate = Gate()
    blocker = ray.remote(hold_until).remote(gate.path)
    waiting = [f.remote(blocker) for _ in range(ns[-1])]
    timeout_error = importlib.import_module(lib + ".exceptions").GetTimeoutError

    def get_not_ready(refs):
        try:
            ray.get(refs, timeout=0)
        except timeout_error:
            return
        raise AssertionError("get(timeout=0) of refs not ready returned")

    def once(k):
        r, w = ready[:k], waiting[:k]
        assert len(ray.wait(r, num_returns=k)[0]) == k and ray.wait(w, timeout=0)[0] == []
        return {
            "get_ready": (_timed_calls(lambda: ray.get(r), k), "ms"),
            "wait_all_ready": (_timed_calls(lambda: ray.wait(r, num_returns=k), k), "ms"),
            "wait_first_ready": (_timed_calls(lambda: ray.wait(r, num_returns=1), k), "ms"),
            "wait_not_ready": (_timed_calls(lambda: ray.wait(w, num_returns=1, timeout=0), k), "ms"),
            "get_not_ready": (_timed_calls(lambda: get_not_ready(w), k), "ms"),
        }

    try:
        return curve(once, ns, reps)
    finally:
        ray.shutdown()  # the waiting tasks never ran: shutdown drops them with the blocker
        gate.close()


def count_args(*args) -> int:
    return len(args)


def spawn_children(lib: str, k: int) -> int:
    """Inside a task: submit ``k`` no-op children, get them all."""
    ray = importlib.import_module(lib)
    child = ray.remote(noop)
    return len(ray.get([child.remote(i) for i in range(k)]))


@workload("scale_fan", "S3", libs=("greenroom", "ray"), n=10_000, n_quick=1_000)
def scale_fan(lib: str, n: int, reps: int, spawned_at: float = 0.0):
    """``fan_in``: one task given n ready refs as arguments, submit to result, per argument;
    ``fan_out``: one task that submits n children and gets them, per child (µs)."""
    ray = init_lib(lib)
    fan_in = ray.remote(count_args)
    fan_out = ray.remote(spawn_children)
    args = [ray.put(i) for i in range(n)]

    def once(k):
        t0 = time.perf_counter()
        assert ray.get(fan_in.remote(*args[:k])) == k
        t1 = time.perf_counter()
        assert ray.get(fan_out.remote(lib, k)) == k
        t2 = time.perf_counter()
        return {"fan_in": ((t1 - t0) / k * 1e6, "us"), "fan_out": ((t2 - t1) / k * 1e6, "us")}

    try:
        return curve(once, sizes(lib, n), reps)
    finally:
        ray.shutdown()


def _free(ray, refs: list) -> float:
    """Drop ``refs`` and make one call through the runtime; seconds it took."""
    t0 = time.perf_counter()
    refs.clear()
    gc.collect()
    ray.available_resources()
    return time.perf_counter() - t0


@workload("scale_objects", "S5", libs=("greenroom", "ray"), n=100_000, n_quick=10_000)
def scale_objects(lib: str, n: int, reps: int, spawned_at: float = 0.0):
    """n small put()s alive at once: ``put`` per object (µs), the runtime's memory per
    object (bytes), and ``free`` per object: dropping the refs, to the next call answered (µs).
    Ray stops at 10k (a put takes ~0.4 ms there)."""
    ray = init_lib(lib)

    def once(k):
        m0 = pss_mb()
        t0 = time.perf_counter()
        refs = [ray.put(i) for i in range(k)]
        t1 = time.perf_counter()
        m1 = pss_mb()
        free_s = _free(ray, refs)
        return {
            "put": ((t1 - t0) / k * 1e6, "us"),
            "bytes_per_object": (max(0.0, m1 - m0) * 1e6 / k, "B"),
            "free": (free_s / k * 1e6, "us"),
        }

    try:
        return curve(once, sizes(lib, n, {"ray": 10_000}), reps)
    finally:
        ray.shutdown()


LARGE_MB = 10


@workload("scale_large_objects", "S5", libs=("greenroom", "ray"), n=500, n_quick=50)
def scale_large_objects(lib: str, n: int, reps: int, spawned_at: float = 0.0):
    """n put()s of a 10 MB array alive at once (500: 5 GB, within both stores' default
    limit of 30% of memory): ``put`` and ``free`` per object (ms)."""
    import numpy as np

    ray = init_lib(lib)
    arr = np.arange(LARGE_MB * FLOATS_PER_MB, dtype=np.float64)

    def once(k):
        t0 = time.perf_counter()
        refs = [ray.put(arr) for _ in range(k)]
        t1 = time.perf_counter()
        free_s = _free(ray, refs)
        return {"put": ((t1 - t0) / k * 1e3, "ms"), "free": (free_s / k * 1e3, "ms")}

    try:
        return curve(once, sizes(lib, n), reps)
    finally:
        ray.shutdown()
