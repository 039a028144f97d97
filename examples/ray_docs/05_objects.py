"""Objects: put, get one or many, get with a timeout."""

import time

import greenroom as ray
from greenroom.exceptions import GetTimeoutError

ray.init(num_cpus=2)

y = 1
object_ref = ray.put(y)
assert ray.get(object_ref) == 1

obj_refs = [ray.put(i) for i in range(10)]
assert ray.get(obj_refs) == list(range(10))


@ray.remote
def long_running_function():
    time.sleep(8)


obj_ref = long_running_function.remote()
try:
    ray.get(obj_ref, timeout=1)
except GetTimeoutError:
    timed_out = True
else:
    timed_out = False
assert timed_out, "get() with a timeout should raise GetTimeoutError"

ray.shutdown()
print("ok")
