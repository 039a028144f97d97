"""Nested remote functions: a task submits tasks; a task blocked in get() yields its CPU."""

import greenroom as ray

ray.init(num_cpus=1, num_gpus=1)


@ray.remote
def f():
    return 1


@ray.remote
def g():
    # Call f 4 times and return the resulting object refs.
    return [f.remote() for _ in range(4)]


@ray.remote
def h():
    # Call f 4 times, block until those 4 tasks finish, and return the values.
    return ray.get([f.remote() for _ in range(4)])


refs = ray.get(g.remote())
assert len(refs) == 4 and all(isinstance(r, ray.ObjectRef) for r in refs)
assert ray.get(refs) == [1, 1, 1, 1]
assert ray.get(h.remote()) == [1, 1, 1, 1]


@ray.remote(num_cpus=1, num_gpus=1)
def g_blocking():
    # While blocked in ray.get, this task releases its CPU (but keeps its GPU),
    # so f can run on the only CPU of this node.
    return ray.get(f.remote())


assert ray.get(g_blocking.remote(), timeout=30) == 1

ray.shutdown()
print("ok")
