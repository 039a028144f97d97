"""Pattern: use ray.wait to limit the number of pending tasks (backpressure)."""

import time

import greenroom as ray

ray.init(num_cpus=2)


@ray.remote
class Actor:
    def heavy_compute(self):
        time.sleep(0.01)
        return 1


actor = Actor.remote()
NUM_TASKS = 40
MAX_NUM_PENDING_TASKS = 5
result_refs = []
done = 0
for _ in range(NUM_TASKS):
    if len(result_refs) > MAX_NUM_PENDING_TASKS:
        # update result_refs to only track the remaining tasks.
        ready_refs, result_refs = ray.wait(result_refs, num_returns=1)
        assert len(ready_refs) == 1
        done += sum(ray.get(ready_refs))
    result_refs.append(actor.heavy_compute.remote())
    assert len(result_refs) <= MAX_NUM_PENDING_TASKS + 1

done += sum(ray.get(result_refs))
assert done == NUM_TASKS

# wait() with a timeout returns what is ready by then, keeping the input order.
refs = [ray.put(i) for i in range(3)]
ready, not_ready = ray.wait(refs, num_returns=3, timeout=5)
assert ready == refs and not_ready == []

ray.shutdown()
print("ok")
