"""Named actors: create with a name, look it up with get_actor, names are unique per namespace."""

import greenroom as ray

ray.init(num_cpus=2)


@ray.remote
class Counter:
    def __init__(self):
        self.n = 0

    def incr(self):
        self.n += 1
        return self.n


counter = Counter.options(name="some_name").remote()
assert ray.get(counter.incr.remote()) == 1

# Retrieve the actor later somewhere (here: inside a task).
same = ray.get_actor("some_name")
assert ray.get(same.incr.remote()) == 2


@ray.remote
def use_named():
    return ray.get(ray.get_actor("some_name").incr.remote())


assert ray.get(use_named.remote()) == 3

# A second actor with the same name in the same namespace is an error.
try:
    Counter.options(name="some_name").remote()
except ValueError:
    duplicate_rejected = True
else:
    duplicate_rejected = False
assert duplicate_rejected

# Looking up a name that does not exist raises ValueError.
try:
    ray.get_actor("no_such_actor")
except ValueError:
    missing_rejected = True
else:
    missing_rejected = False
assert missing_rejected

ray.shutdown()
print("ok")
