"""inspect_serializability and tune's diagnose_serialization: what keeps an object from pickling."""

from __future__ import annotations

import io
import threading

import pytest

from greenroom.tune.utils import diagnose_serialization
from greenroom.util import deregister_serializer, inspect_serializability, register_serializer


def _by_value(source: str, name: str, **scope):
    """A function pickled by value (its module is not importable), with ``scope`` as its globals."""
    namespace = {"__name__": "not_an_importable_module", **scope}
    exec(source, namespace)  # noqa: S102 -- test code, written above
    return namespace[name]


def test_a_picklable_object_says_so():
    out = io.StringIO()
    assert inspect_serializability({"a": [1, 2]}, name="config", print_file=out) == (True, set())
    assert "'config' pickles" in out.getvalue()


def test_a_global_lock_a_function_uses_is_named_with_its_parent():
    lock = threading.Lock()
    train = _by_value("def train():\n    return lock\n", "train", lock=lock)
    ok, failures = inspect_serializability(train, print_file=io.StringIO())
    assert not ok
    [failure] = failures
    assert (failure.name, failure.obj, failure.parent) == ("train.lock", lock, train)


def test_a_closure_variable_and_a_deep_attribute():
    event = threading.Event()

    def outer():
        return event

    class Holder:
        def __init__(self):
            self.fine = 1
            self.inner = {"ok": 2, "cond": threading.Condition()}

    ok, failures = inspect_serializability(
        _by_value("def use():\n    return holder, 3\n", "use", holder=Holder()), print_file=io.StringIO()
    )
    assert not ok and [f.name for f in failures] == ["use.holder.inner['cond']"]
    ok, failures = inspect_serializability(outer, print_file=io.StringIO())
    assert not ok and [f.name for f in failures] == ["outer.event._cond._lock"]  # the deepest, by its path


def test_depth_bounds_the_walk():
    nested = {"a": {"b": {"c": threading.Lock()}}}
    assert [f.name for f in inspect_serializability(nested, name="n", print_file=io.StringIO())[1]] == ["n['a']['b']['c']"]
    assert [f.name for f in inspect_serializability(nested, name="n", depth=1, print_file=io.StringIO())[1]] == [
        "n['a']"
    ]
    assert [f.name for f in inspect_serializability(nested, name="n", depth=0, print_file=io.StringIO())[1]] == ["n"]
    with pytest.raises(ValueError, match="depth"):
        inspect_serializability(nested, depth=-1)


class Connection:
    def __init__(self):
        self.lock = threading.Lock()


def test_a_registered_serializer_makes_it_pickle():
    register_serializer(Connection, serializer=lambda c: None, deserializer=lambda _: Connection())
    try:
        assert inspect_serializability([Connection()], print_file=io.StringIO())[0] is True
    finally:
        deregister_serializer(Connection)
    assert inspect_serializability([Connection()], print_file=io.StringIO())[0] is False


def test_tune_diagnose_serialization(capsys):
    lock = threading.Lock()
    assert diagnose_serialization(lambda config: None) is True
    failures = diagnose_serialization(_by_value("def trainable(config):\n    return lock\n", "trainable", lock=lock))
    assert [f.name for f in failures] == ["trainable.lock"]
    assert "trainable.lock" in capsys.readouterr().out
