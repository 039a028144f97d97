"""Serialization: numpy arrays from the object store are read-only (zero-copy); copy before writing."""

import numpy as np

import greenroom as ray

ray.init(num_cpus=2)


@ray.remote
def f(arr):
    arr[0] = 1


try:
    ray.get(f.remote(np.zeros(100)))
except ray.exceptions.RayTaskError as e:
    assert "assignment destination is read-only" in str(e), str(e)
    read_only = True
else:
    read_only = False
assert read_only, "the task could write to an array from the object store"


@ray.remote
def f_copy(arr):
    arr = arr.copy()  # Adding a copy fixes the error.
    arr[0] = 1
    return arr


assert ray.get(f_copy.remote(np.zeros(100)))[0] == 1

# ray.get of a numpy array is zero-copy: the result is read-only too.
arr = ray.get(ray.put(np.zeros(10)))
assert not arr.flags.writeable

ray.shutdown()
print("ok")
