"""Binding a call's arguments to a signature (runtime/signature.py), as Python does, without calling."""

from __future__ import annotations

import pytest

from greenroom.runtime.signature import CallShape, check_call

pytestmark = pytest.mark.timeout(5)


def binds_like_python(fn, *args, **kwargs) -> None:
    """Our verdict on a call equals Python's own."""
    shape = CallShape.of(fn)
    try:
        fn(*args, **kwargs)
        python_ok = True
    except TypeError:
        python_ok = False
    assert (shape.problem(len(args), kwargs) is None) == python_ok, (args, kwargs)


def f(a, b, c=3, *, d, e=5):
    return a


def g(a, /, b, *args, **kwargs):
    return a


def h():
    return 0


CALLS = [
    (f, (1, 2), {"d": 4}), (f, (1,), {"b": 2, "d": 4}), (f, (1, 2, 3), {"d": 4, "e": 6}),
    (f, (1, 2), {}), (f, (1, 2, 3, 4), {"d": 1}), (f, (1,), {"a": 1, "b": 2, "d": 4}),
    (f, (1, 2), {"d": 4, "z": 1}), (f, (), {"a": 1, "b": 2, "d": 3}),
    (g, (1,), {"b": 2}), (g, (1, 2, 3, 4), {"x": 1}), (g, (), {"a": 1, "b": 2}), (g, (1,), {}),
    (g, (1, 2), {"a": 5}), (h, (), {}), (h, (1,), {}), (h, (), {"x": 1}),
]  # fmt: skip


@pytest.mark.parametrize("fn,args,kwargs", CALLS)
def test_verdicts_match_python(fn, args, kwargs):
    """Positional, keyword-only, positional-only, defaults, *args and **kwargs bind as in Python."""
    binds_like_python(fn, *args, **kwargs)


def test_the_shape_travels_as_plain_data():
    """A shape survives its wire form (it rides inside actor handles)."""
    shape = CallShape.from_wire(CallShape.of(f).to_wire())
    assert shape.problem(2, {"d": 1}) is None
    assert "missing" in shape.problem(2, {})


def test_methods_skip_self():
    """A method's shape leaves out self."""

    class A:
        def m(self, x):
            return x

    shape = CallShape.of(A.m, skip_first=True)
    assert shape.problem(1, {}) is None and shape.problem(2, {}) is not None


def test_the_error_names_the_call_and_says_nothing_ran():
    """check_call raises TypeError naming name.remote() and the problem."""
    with pytest.raises(TypeError, match=r"f\.remote\(\) takes 3 positional argument\(s\) but 4 were given"):
        check_call(CallShape.of(f), "f", (1, 2, 3, 4), {})
    with pytest.raises(TypeError, match="unexpected keyword argument 'z'.*nothing was submitted"):
        check_call(CallShape.of(f), "f", (1, 2), {"d": 1, "z": 2})
    check_call(None, "builtin", (1, 2, 3), {})  # unknown signatures are not checked
