"""Terminating actors: ray.kill, __ray_terminate__ (pending calls finish first), exit_actor() inside a method."""

import time

import greenroom as ray

ray.init(num_cpus=2)


@ray.remote
class Actor:
    def ping(self):
        return "pong"

    def slow(self):
        time.sleep(0.3)
        return "done"

    def exit(self):
        ray.actor.exit_actor()


# Manual termination via an actor handle: current, pending and future calls fail with RayActorError.
actor_handle = Actor.remote()
assert ray.get(actor_handle.ping.remote()) == "pong"
ray.kill(actor_handle)
try:
    ray.get(actor_handle.ping.remote(), timeout=30)
except ray.exceptions.RayActorError:
    killed = True
else:
    killed = False
assert killed

# __ray_terminate__ queues a termination: calls submitted before it still finish.
actor = Actor.remote()
pending = actor.slow.remote()
actor.__ray_terminate__.remote()
assert ray.get(pending, timeout=30) == "done"
try:
    ray.get(actor.ping.remote(), timeout=30)
except ray.exceptions.RayActorError:
    terminated = True
else:
    terminated = False
assert terminated

# Manual termination within the actor: the caller sees the actor's death.
actor = Actor.remote()
exit_ref = actor.exit.remote()
try:
    ray.get(exit_ref, timeout=30)
except ray.exceptions.RayActorError:
    exited = True
else:
    exited = False
assert exited

ray.shutdown()
print("ok")
