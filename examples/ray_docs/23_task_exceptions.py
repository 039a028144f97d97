"""Task errors: RayTaskError wraps the error, also for a dependent task; the user's type can be caught."""

import greenroom as ray

ray.init(num_cpus=2)


@ray.remote
def f():
    raise Exception("the real error")


@ray.remote
def g(x):
    return


try:
    ray.get(f.remote())
except ray.exceptions.RayTaskError as e:
    assert "the real error" in str(e)
else:
    raise AssertionError("expected RayTaskError")

# The error propagates to a task that depends on the failed one.
try:
    ray.get(g.remote(f.remote()))
except ray.exceptions.RayTaskError as e:
    assert "the real error" in str(e)
else:
    raise AssertionError("expected RayTaskError from the dependent task")


class MyException(Exception):
    pass


@ray.remote
def raises_my_exc():
    raise MyException("a user exception")


# The raised error is an instance of both RayTaskError and the user's type.
try:
    ray.get(raises_my_exc.remote())
except MyException as e:
    assert isinstance(e, ray.exceptions.RayTaskError)
    assert "a user exception" in str(e)
else:
    raise AssertionError("expected MyException")

try:
    ray.get(raises_my_exc.remote())
except ray.exceptions.RayTaskError as e:
    assert isinstance(e, MyException)
else:
    raise AssertionError("expected RayTaskError")


# Actor methods surface errors the same way, and the actor keeps running.
@ray.remote
class Actor:
    def fail(self):
        raise ValueError("bad value")

    def ok(self):
        return "still alive"


actor = Actor.remote()
try:
    ray.get(actor.fail.remote())
except ValueError as e:
    assert isinstance(e, ray.exceptions.RayTaskError)
else:
    raise AssertionError("expected ValueError")
assert ray.get(actor.ok.remote()) == "still alive"

ray.shutdown()
print("ok")
