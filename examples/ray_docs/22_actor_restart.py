"""Actor fault tolerance: max_restarts reruns the constructor, max_task_retries retries the failed call."""

import os

import greenroom as ray

ray.init(num_cpus=2)


@ray.remote(max_restarts=2, max_task_retries=-1)
class Actor:
    def __init__(self):
        self.counter = 0

    def increment_and_possibly_fail(self):
        # Exit after every 3 calls.
        if self.counter == 3:
            os._exit(0)
        self.counter += 1
        return self.counter


actor = Actor.remote()
# The actor is restarted up to 2 times, so 9 calls succeed: the sequence 1-3, three times.
seen = [ray.get(actor.increment_and_possibly_fail.remote(), timeout=30) for _ in range(9)]
assert seen == [1, 2, 3] * 3, seen

# After the last restart is used up, every call raises RayActorError.
failures = 0
for _ in range(3):
    try:
        ray.get(actor.increment_and_possibly_fail.remote(), timeout=30)
    except ray.exceptions.RayActorError:
        failures += 1
assert failures == 3

ray.shutdown()
print("ok")
