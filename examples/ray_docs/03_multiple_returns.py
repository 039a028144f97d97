"""Tasks with multiple returns: num_returns on the decorator, in .options(), and from a generator."""

import greenroom as ray

ray.init(num_cpus=2)


@ray.remote
def return_single():
    return 0, 1, 2


assert ray.get(return_single.remote()) == (0, 1, 2)


@ray.remote(num_returns=3)
def return_multiple():
    return 0, 1, 2


a, b, c = return_multiple.remote()
assert ray.get([a, b, c]) == [0, 1, 2]


@ray.remote
def return_pair():
    return "x", "y"


x, y = return_pair.options(num_returns=2).remote()
assert (ray.get(x), ray.get(y)) == ("x", "y")


@ray.remote(num_returns=3)
def return_multiple_as_generator():
    for i in range(3):
        yield i


a, b, c = return_multiple_as_generator.remote()
assert ray.get([a, b, c]) == [0, 1, 2]

ray.shutdown()
print("ok")
