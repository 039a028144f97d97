"""W6 large objects: put, get and a task over an n MB float64 numpy array."""

from __future__ import annotations

import time

from harness import FLOATS_PER_MB, init_lib, repeat, workload


def array_sum(arr):
    return arr.sum()


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
