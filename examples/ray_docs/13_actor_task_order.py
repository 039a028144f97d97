"""Actor task execution order: per-caller order on a sync actor; an async actor runs ready calls first."""

import time

import greenroom as ray

ray.init(num_cpus=2)


@ray.remote
class Counter:
    def __init__(self):
        self.value = 0

    def add(self, addition):
        self.value += addition
        return self.value


counter = Counter.remote()
# For tasks from the same submitter, they are executed in submission order.
value0 = counter.add.remote(1)
value1 = counter.add.remote(2)
assert ray.get(value0) == 1
assert ray.get(value1) == 3


@ray.remote
class AsyncCounter:
    def __init__(self):
        self.value = 0

    async def add(self, addition):
        self.value += addition
        return self.value


@ray.remote
def delayed_resolution(value):
    time.sleep(1)
    return value


counter = AsyncCounter.remote()
# The first call waits for an argument that takes 1 s; an async actor runs the second call meanwhile.
value0 = counter.add.remote(delayed_resolution.remote(1))
value1 = counter.add.remote(2)
assert ray.get(value0) == 3
assert ray.get(value1) == 2

ray.shutdown()
print("ok")
