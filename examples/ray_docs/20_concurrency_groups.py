"""Concurrency groups: per-method concurrency limits, the default group, and choosing a group per call."""

import asyncio

import greenroom as ray

ray.init(num_cpus=2)


@ray.remote(concurrency_groups={"io": 2, "compute": 4})
class AsyncIOActor:
    def __init__(self):
        self.running = {"io": 0, "compute": 0, "default": 0}
        self.peak = {"io": 0, "compute": 0, "default": 0}

    async def _work(self, group):
        self.running[group] += 1
        self.peak[group] = max(self.peak[group], self.running[group])
        await asyncio.sleep(0.2)
        self.running[group] -= 1
        return group

    @ray.method(concurrency_group="io")
    async def f1(self):
        return await self._work("io")

    @ray.method(concurrency_group="io")
    async def f2(self):
        return await self._work("io")

    @ray.method(concurrency_group="compute")
    async def f3(self):
        return await self._work("compute")

    @ray.method(concurrency_group="compute")
    async def f4(self):
        return await self._work("compute")

    async def f5(self):
        return await self._work("default")

    async def peaks(self):
        return self.peak


a = AsyncIOActor.remote()
refs = []
for _ in range(4):
    refs += [a.f1.remote(), a.f2.remote()]  # executed in the "io" group.
    refs += [a.f3.remote(), a.f4.remote()]  # executed in the "compute" group.
    refs += [a.f5.remote()]  # executed in the default group.
ray.get(refs)
peaks = ray.get(a.peaks.remote())
assert peaks["io"] == 2, peaks
assert peaks["compute"] == 4, peaks

# The concurrency group of a call can be chosen when it is made.
b = AsyncIOActor.remote()
ray.get([b.f2.options(concurrency_group="compute").remote() for _ in range(4)])
assert ray.get(b.peaks.remote())["io"] == 4  # f2 ran 4 at a time, in the "compute" group


# The default group's limit comes from max_concurrency.
@ray.remote(concurrency_groups={"io": 2})
class Defaulted:
    def __init__(self):
        self.running = 0
        self.peak = 0

    async def work(self):
        self.running += 1
        self.peak = max(self.peak, self.running)
        await asyncio.sleep(0.1)
        self.running -= 1

    async def get_peak(self):
        return self.peak


d = Defaulted.options(max_concurrency=3).remote()
ray.get([d.work.remote() for _ in range(9)])
assert ray.get(d.get_peak.remote()) == 3

ray.shutdown()
print("ok")
