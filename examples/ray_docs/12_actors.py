"""Actors: create, call methods, pass handles to tasks, multiple returns from a method."""

import time

import greenroom as ray

ray.init(num_cpus=2)


@ray.remote
class Counter:
    def __init__(self):
        self.value = 0

    def increment(self):
        self.value += 1
        return self.value

    def get_counter(self):
        return self.value

    @ray.method(num_returns=2)
    def pair(self):
        return self.value, -self.value


counter = Counter.remote()
assert ray.get(counter.increment.remote()) == 1

# Methods called on different actors run in parallel; on one actor, serially in call order.
counters = [Counter.remote() for _ in range(2)]
[c.increment.remote() for c in counters]
assert ray.get([c.increment.remote() for c in counters]) == [2, 2]
assert ray.get([counter.increment.remote() for _ in range(5)]) == [2, 3, 4, 5, 6]

pos, neg = counter.pair.remote()
assert ray.get([pos, neg]) == [6, -6]


# Actor handles can be passed to other tasks.
@ray.remote
def f(counter):
    for _ in range(10):
        time.sleep(0.01)
        counter.increment.remote()


handle = Counter.remote()
ray.get([f.remote(handle) for _ in range(3)])
deadline = time.monotonic() + 10
while ray.get(handle.get_counter.remote()) < 30 and time.monotonic() < deadline:
    time.sleep(0.05)
assert ray.get(handle.get_counter.remote()) == 30

ray.shutdown()
print("ok")
