"""Anti-pattern fix: process results in completion order with ray.wait instead of submission order."""

import random
import time

import greenroom as ray

ray.init(num_cpus=2)


@ray.remote
def f(i):
    time.sleep(random.random() * 0.2)
    return i


refs = [f.remote(i) for i in range(8)]
seen = []
unfinished = refs
while unfinished:
    # Returns the first ObjectRef that is ready.
    finished, unfinished = ray.wait(unfinished, num_returns=1)
    result = ray.get(finished[0])
    seen.append(result)

assert sorted(seen) == list(range(8))

ray.shutdown()
print("ok")
