"""Task fault tolerance: max_retries reruns a task whose worker died; retry_exceptions retries app errors."""

import os
import tempfile

import greenroom as ray

ray.init(num_cpus=2)
workdir = tempfile.mkdtemp()


def attempts(name):
    path = os.path.join(workdir, name)
    n = int(open(path).read()) + 1 if os.path.exists(path) else 1
    with open(path, "w") as fh:
        fh.write(str(n))
    return n


@ray.remote(max_retries=2)
def crashes_twice():
    # The worker process dies on the first two attempts.
    if attempts("crash") <= 2:
        os._exit(1)
    return "survived"


assert ray.get(crashes_twice.remote(), timeout=60) == "survived"


@ray.remote(max_retries=0)
def always_crashes():
    os._exit(1)


try:
    ray.get(always_crashes.remote(), timeout=60)
except ray.exceptions.WorkerCrashedError:
    crashed = True
else:
    crashed = False
assert crashed


@ray.remote(max_retries=3, retry_exceptions=True)
def flaky():
    if attempts("flaky") <= 2:
        raise ValueError("transient")
    return "recovered"


assert ray.get(flaky.remote(), timeout=60) == "recovered"


@ray.remote(max_retries=3, retry_exceptions=[ConnectionError])
def only_retries_connection_errors():
    attempts("typed")
    raise KeyError("not retried")


try:
    ray.get(only_retries_connection_errors.remote(), timeout=60)
except KeyError:
    pass
assert int(open(os.path.join(workdir, "typed")).read()) == 1  # ran once: KeyError is not in the list


# Application errors are not retried by default.
@ray.remote(max_retries=3)
def app_error():
    attempts("app")
    raise RuntimeError("app error")


try:
    ray.get(app_error.remote(), timeout=60)
except RuntimeError:
    pass
assert int(open(os.path.join(workdir, "app")).read()) == 1

ray.shutdown()
print("ok")
