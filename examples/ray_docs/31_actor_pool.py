"""ray.util.ActorPool: map, map_unordered, submit with get_next and get_next_unordered, has_next."""

import greenroom as ray
from greenroom.util import ActorPool

ray.init(num_cpus=2)


@ray.remote
class Actor:
    def double(self, n):
        return n * 2


a1, a2 = Actor.remote(), Actor.remote()
pool = ActorPool([a1, a2])

# pool.map(..) returns a Python generator object
gen = pool.map(lambda a, v: a.double.remote(v), [1, 2, 3, 4])
assert list(gen) == [2, 4, 6, 8]

assert sorted(pool.map_unordered(lambda a, v: a.double.remote(v), [1, 2, 3, 4])) == [2, 4, 6, 8]

pool.submit(lambda a, v: a.double.remote(v), 1)
pool.submit(lambda a, v: a.double.remote(v), 2)
assert (pool.get_next(), pool.get_next()) == (2, 4)

pool.submit(lambda a, v: a.double.remote(v), 1)
pool.submit(lambda a, v: a.double.remote(v), 2)
assert sorted([pool.get_next_unordered(), pool.get_next_unordered()]) == [2, 4]
assert not pool.has_next()

# With more values than actors, submit queues the rest until an actor frees up.
for v in range(5):
    pool.submit(lambda a, v: a.double.remote(v), v)
results = []
while pool.has_next():
    results.append(pool.get_next())
assert results == [0, 2, 4, 6, 8]

# pop_idle / push take an actor out of the pool and put it back.
idle = pool.pop_idle()
assert idle is not None
pool.push(idle)
assert pool.has_free()

ray.shutdown()
print("ok")
