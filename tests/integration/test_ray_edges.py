"""Ray's behaviour at the edges that programs rely on: errors' types, bad calls, bad input."""

from __future__ import annotations

import threading

import pytest

import greenroom as ray
from greenroom.exceptions import RayTaskError

pytestmark = pytest.mark.timeout(60)


@ray.remote
def add(a, b, c=0):
    return a + b + c


@ray.remote
class Counter:
    def __init__(self, start, step=1):
        self.n = start

    def incr(self, by):
        self.n += by
        return self.n


def test_get_wait_and_kill_of_the_wrong_thing_raise_value_error(gr):
    """get()/wait() of something that is not an ObjectRef, kill() of a non-handle: ValueError."""
    for bad in (1, "x", None):
        with pytest.raises(ValueError, match="ObjectRef"):
            ray.get(bad)
    with pytest.raises(ValueError, match="ObjectRef"):
        ray.wait([ray.put(1), 2])
    with pytest.raises(ValueError, match="ActorHandle"):
        ray.kill("not an actor")


def test_arguments_that_do_not_fit_raise_type_error_before_submitting(gr):
    """Too many, missing or unknown arguments: TypeError at .remote(), in the caller, nothing queued."""
    before = ray.available_resources()
    with pytest.raises(TypeError, match=r"add\.remote\(\) takes 3 positional"):
        add.remote(1, 2, 3, 4)
    with pytest.raises(TypeError, match="missing required argument"):
        add.remote(1)
    with pytest.raises(TypeError, match="unexpected keyword argument 'd'"):
        add.remote(1, 2, d=3)
    with pytest.raises(TypeError, match=r"Counter\.remote\(\) missing"):
        Counter.remote()
    c = Counter.remote(0)
    with pytest.raises(TypeError, match=r"Counter\.incr\.remote\(\) takes 1 positional"):
        c.incr.remote(1, 2)
    assert ray.get(c.incr.remote(by=2)) == 2 and ray.get(add.remote(1, b=2)) == 3
    assert ray.available_resources() == before


def test_an_empty_resource_name_and_init_types(gr):
    """resources={"": 1} is a ValueError at decoration and .options(); init(num_cpus="2") a TypeError."""
    with pytest.raises(ValueError, match="must not be empty"):
        ray.remote(resources={"": 1})(lambda: 1)
    with pytest.raises(ValueError, match="must not be empty"):
        add.options(resources={"": 1})

    class Plain:
        pass

    with pytest.raises(ValueError, match="must not be empty"):
        ray.remote(resources={"": 1})(Plain)
    ray.shutdown()
    with pytest.raises(TypeError, match="num_cpus='2'"):
        ray.init(num_cpus="2")
    with pytest.raises(ValueError, match="num_cpus=-1"):
        ray.init(num_cpus=-1)
    assert not ray.is_initialized()


def test_an_unpicklable_argument_raises_its_own_error_at_remote(gr):
    """The pickling error itself (type and message) reaches the caller, with an explanation attached."""
    with pytest.raises(TypeError, match="cannot pickle '_thread.lock' object") as info:
        add.remote(threading.Lock(), 1)
    assert any("argument 0 of task" in note for note in getattr(info.value, "__notes__", []))

    class Unpicklable:
        def __reduce__(self):
            raise RuntimeError("no pickling for me")

    with pytest.raises(RuntimeError, match="no pickling for me"):
        add.remote(Unpicklable(), 1)


def test_an_unpicklable_result_keeps_its_type(gr):
    """A result that fails to pickle: get() raises RayTaskError and the original type."""

    @ray.remote
    def returns_lock():
        return threading.Lock()

    with pytest.raises(TypeError, match="cannot be pickled") as info:
        ray.get(returns_lock.remote(), timeout=30)
    assert isinstance(info.value, RayTaskError)


def test_an_exception_whose_class_cannot_be_rebuilt_still_arrives(gr, tmp_path):
    """A remote error type the caller can't import: RayTaskError with its type name and traceback."""
    module = tmp_path / "only_in_the_worker.py"
    module.write_text("class Boom(Exception):\n    pass\n")

    @ray.remote(max_retries=0)
    def raises_boom(path):
        import sys

        sys.path.insert(0, path)
        import only_in_the_worker

        raise only_in_the_worker.Boom("from a class the driver cannot import")

    with pytest.raises(RayTaskError, match="Boom") as info:
        ray.get(raises_boom.remote(str(tmp_path)), timeout=30)
    assert "from a class the driver cannot import" in str(info.value)
    assert info.value.cause is None and info.value.cause_type_name == "Boom"


def test_a_nested_failure_is_the_innermost_type_with_both_tasks_in_the_traceback(gr):
    """except KeyError catches a KeyError raised two tasks down; both tasks show in the text."""

    @ray.remote(max_retries=0)
    def inner():
        raise KeyError("deep")

    @ray.remote(max_retries=0)
    def outer():
        return ray.get(inner.remote())

    with pytest.raises(KeyError) as info:
        ray.get(outer.remote(), timeout=30)
    assert isinstance(info.value, RayTaskError)
    text = str(info.value)
    assert "outer" in text and "inner" in text and "deep" in text


def test_a_ref_from_an_earlier_session_is_an_object_freed_error():
    """get() of a ref whose object this node never had (or freed): ObjectFreedError, an ObjectLostError."""
    from greenroom.exceptions import ObjectFreedError, ObjectLostError

    ray.init(num_cpus=1)
    old = ray.put(1)
    ray.shutdown()
    ray.init(num_cpus=1)
    try:
        with pytest.raises(ObjectFreedError, match="freed, or comes from an earlier session") as info:
            ray.get(old, timeout=10)
        assert isinstance(info.value, ObjectLostError)
    finally:
        ray.shutdown()
