"""Tasks: run a remote function, run several in parallel, override resources, chain refs, wait."""

import time

import greenroom as ray

ray.init(num_cpus=2)


def normal_function():
    return 1


@ray.remote
def my_function():
    return 1


obj_ref = my_function.remote()
assert ray.get(obj_ref) == normal_function()


@ray.remote
def slow_function():
    time.sleep(0.5)
    return 1


start = time.monotonic()
refs = [slow_function.remote() for _ in range(2)]  # .remote() does not block
assert time.monotonic() - start < 0.5
assert ray.get(refs) == [1, 1]


@ray.remote(num_cpus=2)
def heavy():
    return 1


# Override the default resource requirements with .options().
assert ray.get(heavy.options(num_cpus=1).remote()) == 1


@ray.remote
def function_with_an_argument(value):
    return value + 1


obj_ref1 = my_function.remote()
obj_ref2 = function_with_an_argument.remote(obj_ref1)  # the ref is resolved before the task runs
assert ray.get(obj_ref2) == 2

object_refs = [slow_function.remote() for _ in range(2)]
ready_refs, remaining_refs = ray.wait(object_refs, num_returns=1, timeout=None)
assert len(ready_refs) == 1 and len(remaining_refs) == 1

ray.shutdown()
print("ok")
