"""Namespaces: the job's namespace, and a named actor placed in (and looked up from) another one."""

import greenroom as ray

ray.init(num_cpus=2, namespace="colors")
assert ray.get_runtime_context().namespace == "colors"


@ray.remote
class Actor:
    def name(self):
        return ray.get_runtime_context().get_actor_name()


orange = Actor.options(name="orange", lifetime="detached").remote()
assert ray.get(orange.name.remote()) == "orange"

# An actor can be created in a namespace other than the job's.
Actor.options(name="my_actor", namespace="actor_namespace", lifetime="detached").remote()

# It is found by naming its namespace...
found = ray.get_actor("my_actor", namespace="actor_namespace")
assert ray.get(found.name.remote()) == "my_actor"
# ...but not in the job's own namespace.
try:
    ray.get_actor("my_actor")
except ValueError:
    hidden = True
else:
    hidden = False
assert hidden

# Actors of the job's namespace are found without naming it.
assert ray.get(ray.get_actor("orange").name.remote()) == "orange"

ray.shutdown()
print("ok")
