"""Ray generators (streaming): iterate refs as the task yields, next(), errors mid-stream, actor generators."""

import time

import greenroom as ray

ray.init(num_cpus=2)


@ray.remote
def f():
    for i in range(3):
        time.sleep(0.1)
        yield i


assert [ray.get(ref) for ref in f.remote()] == [0, 1, 2]

gen = f.remote()
assert ray.get(next(gen)) == 0
assert ray.get(next(gen)) == 1
assert ray.get(next(gen)) == 2
try:
    next(gen)
except StopIteration:
    exhausted = True
else:
    exhausted = False
assert exhausted


@ray.remote
def task():
    for i in range(5):
        if i == 1:
            raise ValueError("failed at 1")
        yield i


gen = task.remote()
assert ray.get(next(gen)) == 0  # values yielded before the error are fine
try:
    ray.get(next(gen))
except ValueError:
    raised = True
else:
    raised = False
assert raised
try:
    next(gen)
except StopIteration:
    pass
else:
    raise AssertionError("the generator should end after the error")


@ray.remote
class Actor:
    def f(self):
        for i in range(3):
            yield i


@ray.remote
class AsyncActor:
    async def f(self):
        for i in range(3):
            yield i


@ray.remote(max_concurrency=5)
class ThreadedActor:
    def f(self):
        for i in range(3):
            yield i


for cls in (Actor, AsyncActor, ThreadedActor):
    actor = cls.remote()
    assert [ray.get(ref) for ref in actor.f.remote()] == [0, 1, 2], cls

ray.shutdown()
print("ok")
