"""ObjectRefs as asyncio futures and as concurrent.futures futures."""

import asyncio
import time

import greenroom as ray

ray.init(num_cpus=2)


@ray.remote
def some_task():
    return 1


async def await_obj_ref():
    first = await some_task.remote()
    done, _pending = await asyncio.wait([asyncio.ensure_future(some_task.remote())])
    second = done.pop().result()
    gathered = await asyncio.gather(*[some_task.remote() for _ in range(3)])
    return first, second, gathered


assert asyncio.run(await_obj_ref()) == (1, 1, [1, 1, 1])

# An ObjectRef converted to an asyncio future.
async def wrap():
    return await asyncio.wrap_future(some_task.remote().future())


assert asyncio.run(wrap()) == 1

# ObjectRefs converted to concurrent.futures.Future objects.
import concurrent.futures  # noqa: E402

refs = [some_task.remote() for _ in range(4)]
futs = [ref.future() for ref in refs]
assert [f.result(timeout=10) for f in concurrent.futures.as_completed(futs)] == [1, 1, 1, 1]

fut = some_task.remote().future()
assert fut.result(timeout=10) == 1


@ray.remote
def slow():
    time.sleep(0.2)
    return "slow"


async def await_with_timeout():
    return await asyncio.wait_for(slow.remote(), timeout=10)


assert asyncio.run(await_with_timeout()) == "slow"

ray.shutdown()
print("ok")
