"""AsyncIO actors: async methods run concurrently on one event loop; calls can be awaited."""

import asyncio

import greenroom as ray

ray.init(num_cpus=2)


@ray.remote
class AsyncActor:
    def __init__(self, expected_num_tasks: int):
        self._event = asyncio.Event()
        self._curr_num_tasks = 0
        self._expected_num_tasks = expected_num_tasks

    # Multiple invocations of this method can run concurrently on the same event loop.
    async def run_concurrent(self):
        self._curr_num_tasks += 1
        if self._curr_num_tasks == self._expected_num_tasks:
            print("All coroutines are executing concurrently, unblocking.")
            self._event.set()
        else:
            print("Waiting for other coroutines to start.")
        await self._event.wait()
        print("All coroutines ran concurrently.")
        return self._curr_num_tasks


actor = AsyncActor.remote(4)
refs = [actor.run_concurrent.remote() for _ in range(4)]
# Each call would wait forever unless all four run at once.
assert ray.get(refs, timeout=30) == [4, 4, 4, 4]


async def async_get():
    # async ray.get: await the call's ref.
    return await actor.run_concurrent.remote()


assert asyncio.run(async_get()) == 5


@ray.remote
class LimitedActor:
    def __init__(self):
        self.running = 0
        self.peak = 0

    async def run_task(self):
        self.running += 1
        self.peak = max(self.peak, self.running)
        await asyncio.sleep(0.2)
        self.running -= 1

    async def get_peak(self):
        return self.peak


# Setting concurrency in async actors: only 2 tasks will be running concurrently.
limited = LimitedActor.options(max_concurrency=2).remote()
ray.get([limited.run_task.remote() for _ in range(6)])
assert ray.get(limited.get_peak.remote()) == 2

ray.shutdown()
print("ok")
