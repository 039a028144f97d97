"""Actor lifetimes: get_if_exists returns the existing named actor; a detached actor is killed by hand."""

import greenroom as ray

ray.init(num_cpus=2)


@ray.remote
class Greeter:
    def __init__(self, value):
        self.value = value

    def say_hello(self):
        return self.value


# Actor `g1` doesn't yet exist, so it is created with the given args.
a = Greeter.options(name="g1", get_if_exists=True).remote("Old Greeting")
assert ray.get(a.say_hello.remote()) == "Old Greeting"

# Actor `g1` already exists, so it is returned (new args are ignored).
b = Greeter.options(name="g1", get_if_exists=True).remote("New Greeting")
assert ray.get(b.say_hello.remote()) == "Old Greeting"


@ray.remote
class Service:
    def ping(self):
        return "pong"


detached = Service.options(name="DetachedActor", lifetime="detached").remote()
assert ray.get(detached.ping.remote()) == "pong"
assert ray.get(ray.get_actor("DetachedActor").ping.remote()) == "pong"

# A detached actor must be destroyed manually; afterwards its name is gone.
ray.kill(detached)
try:
    ray.get_actor("DetachedActor")
except ValueError:
    gone = True
else:
    gone = False
assert gone

ray.shutdown()
print("ok")
