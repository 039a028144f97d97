"""Serialization: register_serializer makes an unpicklable class travel; deregister_serializer undoes it."""

import threading

import greenroom as ray

ray.init(num_cpus=2)


class A:
    def __init__(self, x):
        self.x = x
        self.lock = threading.Lock()  # could not be serialized!


try:
    ray.get(ray.put(A(1)))  # fail!
except TypeError:
    failed_before = True
else:
    failed_before = False
assert failed_before


def custom_serializer(a):
    return a.x


def custom_deserializer(b):
    return A(b)


# Register serializer and deserializer for class A:
ray.util.register_serializer(A, serializer=custom_serializer, deserializer=custom_deserializer)
assert ray.get(ray.put(A(1))).x == 1  # success!

# You can deregister the serializer at any time.
ray.util.deregister_serializer(A)
try:
    ray.get(ray.put(A(1)))  # fail again!
except TypeError:
    failed_after = True
else:
    failed_after = False
assert failed_after

ray.shutdown()
print("ok")
