"""Task errors: when the user's type cannot be subclassed, only RayTaskError is raised, with .cause."""

import greenroom as ray

ray.init(num_cpus=2)


class MyFinalException(Exception):
    def __init_subclass__(cls, /, *args, **kwargs):
        raise TypeError("Cannot subclass this little exception class.")


@ray.remote
def raises_my_final_exc():
    raise MyFinalException("a *final* user exception")


try:
    ray.get(raises_my_final_exc.remote())
except ray.exceptions.RayTaskError as e:
    assert not isinstance(e, MyFinalException)
    assert isinstance(e.cause, MyFinalException)
    assert "a *final* user exception" in str(e.cause)
else:
    raise AssertionError("expected RayTaskError")

ray.shutdown()
print("ok")
