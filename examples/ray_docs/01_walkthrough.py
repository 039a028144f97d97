"""Ray Core walkthrough: a task, an actor, and passing an object between them."""

import greenroom as ray

ray.init(num_cpus=2)


@ray.remote
def square(x):
    return x * x


refs = [square.remote(i) for i in range(4)]
assert ray.get(refs) == [0, 1, 4, 9]


@ray.remote
class Counter:
    def __init__(self):
        self.i = 0

    def get(self):
        return self.i

    def incr(self, value):
        self.i += value


counter = Counter.remote()
for _ in range(10):
    counter.incr.remote(1)
assert ray.get(counter.get.remote()) == 10


@ray.remote
def sum_square(values):
    return sum(v * v for v in values)


numbers = ray.put(list(range(4)))
assert ray.get(sum_square.remote(numbers)) == 14

ray.shutdown()
print("ok")
