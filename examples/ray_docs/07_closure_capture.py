"""Objects: a task can use a ref captured from the enclosing scope (closure capture)."""

import greenroom as ray

ray.init(num_cpus=2)

a, b, c = ray.put(1), ray.put(2), ray.put(3)


@ray.remote
def print_via_capture():
    """This function prints the values of (a, b, c) to the worker logs."""
    values = ray.get([a, b, c])
    print(values)
    return values


assert ray.get(print_via_capture.remote()) == [1, 2, 3]

ray.shutdown()
print("ok")
