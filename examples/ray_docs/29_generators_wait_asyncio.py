"""Ray generators with ray.wait (ObjectRefGenerator is waitable) and with asyncio (async for)."""

import asyncio
import time

import greenroom as ray
from greenroom import ObjectRefGenerator

ray.init(num_cpus=2)


@ray.remote
def generator_task():
    for i in range(3):
        time.sleep(0.1)
        yield i


@ray.remote
def regular_task():
    return "regular"


gen = generator_task.remote()
assert isinstance(gen, ObjectRefGenerator)
ready, unready = [], [gen, regular_task.remote()]
result = []
while unready:
    ready, unready = ray.wait(unready)
    for r in ready:
        if isinstance(r, ObjectRefGenerator):
            try:
                ref = next(r)
                result.append(ray.get(ref))
            except StopIteration:
                pass
            else:
                unready.append(r)
        else:
            result.append(ray.get(r))
assert sorted(result, key=str) == [0, 1, 2, "regular"], result


async def main():
    values = []
    async for ref in generator_task.remote():
        values.append(await ref)
    return values


assert asyncio.run(main()) == [0, 1, 2]


@ray.remote
def endless():
    i = 0
    while True:
        time.sleep(0.05)
        yield i
        i += 1


# A generator can be cancelled like a task.
gen = endless.remote()
assert ray.get(next(gen)) == 0
ray.cancel(gen)

ray.shutdown()
print("ok")
