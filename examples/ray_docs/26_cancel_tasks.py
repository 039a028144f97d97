"""Cancelling tasks: ray.cancel makes get() raise TaskCancelledError; force=True kills the worker."""

import time

import greenroom as ray

ray.init(num_cpus=2)


@ray.remote
def blocking_operation():
    time.sleep(10e6)


obj_ref = blocking_operation.remote()
ray.cancel(obj_ref)
try:
    ray.get(obj_ref, timeout=30)
except ray.exceptions.TaskCancelledError:
    cancelled = True
else:
    cancelled = False
assert cancelled


# A queued task that never started is cancelled too.
blockers = [blocking_operation.remote() for _ in range(2)]
queued = blocking_operation.remote()
ray.cancel(queued)
try:
    ray.get(queued, timeout=30)
except ray.exceptions.TaskCancelledError:
    pass
else:
    raise AssertionError("expected TaskCancelledError for a queued task")

# force=True kills the worker running the task.
ray.cancel(blockers[0], force=True)
try:
    ray.get(blockers[0], timeout=30)
except (ray.exceptions.TaskCancelledError, ray.exceptions.WorkerCrashedError):
    pass
else:
    raise AssertionError("expected the force-cancelled task to fail")

ray.shutdown()
print("ok")
