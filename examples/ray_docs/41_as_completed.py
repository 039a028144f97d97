"""ray.util.as_completed and map_unordered: results in batches as they finish."""

import time

import greenroom as ray
from greenroom.util import as_completed, map_unordered

ray.init(num_cpus=5)


@ray.remote
def f(x):
    time.sleep(x * 0.3)
    return x


refs = [f.remote(i) for i in [10, 4, 6, 8, 2]]
batches = []
results = []
for x in as_completed(refs, chunk_size=2):
    results.append(x)
# The two shortest tasks (2 and 4) finish first and come back as the first batch.
assert sorted(results[:2]) == [2, 4], results
assert sorted(results) == [2, 4, 6, 8, 10]


@ray.remote
def g(x):
    return x + 1


assert sorted(map_unordered(g, range(20), backpressure_size=4, chunk_size=2)) == list(range(1, 21))

ray.shutdown()
print("ok")
