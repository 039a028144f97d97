"""The tests' one polling helper: returns as soon as the predicate holds, else fails by its deadline."""

from __future__ import annotations

import time

import pytest

from helpers import wait_for


def test_returns_once_the_predicate_holds():
    """It polls until true and returns None."""
    calls = []
    assert wait_for(lambda: calls.append(1) or len(calls) >= 3, "three calls", timeout=5, interval=0) is None
    assert len(calls) == 3


def test_times_out_naming_what_it_waited_for():
    """A predicate that never holds raises TimeoutError after the timeout, naming what was awaited."""
    start = time.monotonic()
    with pytest.raises(TimeoutError, match=r"gave up after 0.05 s waiting for the moon"):
        wait_for(lambda: False, "the moon", timeout=0.05)
    assert 0.05 <= time.monotonic() - start < 5
