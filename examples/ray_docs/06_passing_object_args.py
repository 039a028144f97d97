"""Passing objects: a top-level ref argument arrives as its value, a ref nested in a list arrives as a ref."""

import greenroom as ray

ray.init(num_cpus=2)


@ray.remote
def echo(a: int, b: int, c: int):
    return a, b, c


# Passing refs as top-level arguments: the task sees the values.
a, b, c = ray.put(1), ray.put(2), ray.put(3)
assert ray.get(echo.remote(a, b, c)) == (1, 2, 3)

# Passing literal values works the same.
assert ray.get(echo.remote(1, 2, 3)) == (1, 2, 3)


@ray.remote
def echo_and_get(x_list):
    print("args:", x_list)
    return [type(x).__name__ for x in x_list], ray.get(x_list)


# Refs nested inside a list are not resolved: the task gets the refs and may get() them itself.
names, values = ray.get(echo_and_get.remote([a, b, c]))
assert names == ["ObjectRef"] * 3, names
assert values == [1, 2, 3]

ray.shutdown()
print("ok")
