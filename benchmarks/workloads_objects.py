"""W6 objects: put, get and a task over an n MB float64 numpy array; tasks given smaller arrays."""

from __future__ import annotations

import time

from harness import FLOATS_PER_MB, init_lib, latencies, repeat, workload


def array_sum(arr):
    return arr.sum()


def array_first(arr):
    return float(arr[0])


def in_shared_memory(arr) -> bool:
    """Whether ``arr``'s data lies in a shared mapping (an object store), not a private copy.

    Read from /proc/self/maps where there is one. ``not owndata or not writeable``,
    the fallback elsewhere, is only a heuristic: an array unpickled from bytes
    does not own its data either, yet it is a copy.
    """
    addr = arr.__array_interface__["data"][0]
    try:
        with open("/proc/self/maps") as f:
            for line in f:
                span, perms = line.split(maxsplit=2)[:2]
                lo, hi = (int(x, 16) for x in span.split("-"))
                if lo <= addr < hi:
                    return perms[3] == "s"
    except OSError:
        pass
    return not arr.flags.owndata or not arr.flags.writeable


@workload("large_objects", "W6", libs=("greenroom", "ray"), n=100, n_quick=10)
def large_objects(lib: str, n: int, reps: int, spawned_at: float = 0.0):
    """put, then get on that fresh ref, of an ``n`` MB float64 array (GB/s each),
    whether get returned a view into shared memory, and a task given the ref
    returning arr.sum() (ms)."""
    import numpy as np

    ray = init_lib(lib)
    total = ray.remote(array_sum)

    def once(mb):
        arr = np.arange(mb * FLOATS_PER_MB, dtype=np.float64)
        t0 = time.perf_counter()
        ref = ray.put(arr)
        t1 = time.perf_counter()
        out = ray.get(ref)
        t2 = time.perf_counter()
        zero_copy = in_shared_memory(out)
        del out  # Ray: release the store's buffer before the task reads the object
        t3 = time.perf_counter()
        assert ray.get(total.remote(ref)) == arr.sum()
        t4 = time.perf_counter()
        gb = arr.nbytes / 1e9
        return {
            "put": (gb / (t1 - t0), "GB/s"),
            "get": (gb / (t2 - t1), "GB/s"),
            "get_zero_copy": (float(zero_copy), "bool"),
            "task_sum": ((t4 - t3) * 1e3, "ms"),
        }

    try:
        return repeat(once, n, reps)
    finally:
        ray.shutdown()


@workload("array_args", "W6", libs=("greenroom", "ray"), n=500, n_quick=50)
def array_args(lib: str, n: int, reps: int, spawned_at: float = 0.0):
    """``n`` sequential get(f.remote(arr)), ``f`` returning arr[0], for an 8 KB and a 512 KB float64
    array: values under the store's limit travel in the messages (median µs each)."""
    import numpy as np

    ray = init_lib(lib)
    first = ray.remote(array_first)
    arrays = {"8kb": np.arange(1024, dtype=np.float64), "512kb": np.arange(65536, dtype=np.float64)}

    def once(k):
        return {
            f"median_{label}": latencies(lambda i, a=arr: ray.get(first.remote(a)), k)["median"]
            for label, arr in arrays.items()
        }

    try:
        return repeat(once, n, reps)
    finally:
        ray.shutdown()
