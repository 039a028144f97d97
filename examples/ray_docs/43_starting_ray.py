"""Starting Ray: init, is_initialized, shutdown, ignore_reinit_error, and init on first use."""

import greenroom as ray

assert not ray.is_initialized()
ray.init(num_cpus=2)
assert ray.is_initialized()

# Calling init() twice is an error unless ignore_reinit_error=True.
try:
    ray.init(num_cpus=2)
except RuntimeError:
    reinit_rejected = True
else:
    reinit_rejected = False
assert reinit_rejected
ray.init(num_cpus=2, ignore_reinit_error=True)

ray.shutdown()
assert not ray.is_initialized()


@ray.remote
def f():
    return 1


# In recent versions of Ray, init() is called automatically on the first use of a remote API.
assert ray.get(f.remote()) == 1
assert ray.is_initialized()

ray.shutdown()
print("ok")
