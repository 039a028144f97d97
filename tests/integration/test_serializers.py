"""ray.util.register_serializer: a class pickle cannot handle travels once its serializer is registered."""

from __future__ import annotations

import threading

import numpy as np
import pytest

import greenroom as ray
from greenroom.exceptions import RayTaskError

pytestmark = pytest.mark.timeout(60)


class Locked:
    """Holds a lock: pickle refuses it."""

    def __init__(self, x):
        self.x = x
        self.lock = threading.Lock()


class LockedChild(Locked):
    pass


def to_x(obj: Locked):
    return obj.x


def from_x(x) -> Locked:
    return Locked(x)


@ray.remote
def read_x(value):
    """The x of every Locked in ``value`` (a Locked, or a list or dict of them)."""
    if isinstance(value, Locked):
        return value.x
    items = value.values() if isinstance(value, dict) else value
    return [item.x for item in items]


@ray.remote
def make_locked(register: bool):
    if register:
        ray.util.register_serializer(Locked, serializer=to_x, deserializer=from_x)
    return Locked(7)


@pytest.fixture
def registered(gr):
    ray.util.register_serializer(Locked, serializer=to_x, deserializer=from_x)
    yield
    ray.util.deregister_serializer(Locked)


def test_an_unpicklable_class_travels_once_registered_and_not_after(gr):
    with pytest.raises(TypeError, match="lock"):
        ray.put(Locked(1))
    ray.util.register_serializer(Locked, serializer=to_x, deserializer=from_x)
    try:
        back = ray.get(ray.put(Locked(1)))
        assert isinstance(back, Locked) and back.x == 1 and back.lock is not None
    finally:
        ray.util.deregister_serializer(Locked)
    with pytest.raises(TypeError, match="lock"):
        ray.put(Locked(1))


def test_workers_rebuild_it_without_registering(registered):
    """The deserializer travels with the data: a task's argument, nested in containers, and a large
    payload (the serializer's numpy array goes through the shared store) all arrive rebuilt."""
    assert ray.get(read_x.remote(Locked(3)), timeout=30) == 3
    assert ray.get(read_x.remote([Locked(1), Locked(2)]), timeout=30) == [1, 2]
    assert ray.get(read_x.remote({"a": Locked(5)}), timeout=30) == [5]
    big = np.arange(1 << 20)
    assert np.array_equal(ray.get(read_x.remote(Locked(big)), timeout=30), big)


def test_the_registration_is_the_process_that_sends(gr):
    """A task returning the class fails unless the task registered the serializer itself (as in Ray:
    each process registers its own)."""
    with pytest.raises((RayTaskError, TypeError), match="lock"):
        ray.get(make_locked.remote(False), timeout=30)
    assert ray.get(make_locked.remote(True), timeout=30).x == 7


def test_subclasses_are_not_covered(registered):
    with pytest.raises(TypeError, match="lock"):
        ray.put(LockedChild(1))


def test_bad_arguments_say_what_to_pass():
    with pytest.raises(TypeError, match="expected a class"):
        ray.util.register_serializer(Locked(1), serializer=to_x, deserializer=from_x)
    with pytest.raises(TypeError, match="deserializer=.*expected a callable"):
        ray.util.register_serializer(Locked, serializer=to_x, deserializer=None)
    with pytest.raises(TypeError, match="expected a class"):
        ray.util.deregister_serializer("Locked")
    ray.util.deregister_serializer(LockedChild)  # none registered: nothing happens
