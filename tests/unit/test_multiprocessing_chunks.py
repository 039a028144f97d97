"""The Pool's pure rules, without processes: chunk sizes, chunking, and how outcomes become results."""

from __future__ import annotations

import multiprocessing.pool

import pytest

from greenroom.util.multiprocessing.results import (
    calls_of,
    check_chunksize,
    chunked,
    default_chunksize,
    outcomes_to_items,
)


def test_default_chunksize_is_the_standard_librarys():
    """About four chunks per worker, rounded up, as multiprocessing.Pool.map chooses."""
    assert default_chunksize(0, 2) == 0
    assert default_chunksize(1, 2) == 1
    assert default_chunksize(8, 2) == 1
    assert default_chunksize(9, 2) == 2
    assert default_chunksize(100, 4) == 7


def test_chunking_is_lazy_and_keeps_order():
    """chunked() reads its input only as chunks are taken; calls_of() makes f(x) or f(*x) calls."""
    seen = []

    def source():
        for i in range(7):
            seen.append(i)
            yield i

    chunks = chunked(calls_of(source(), star=False), 3)
    assert next(chunks) == [((0,), None), ((1,), None), ((2,), None)] and seen == [0, 1, 2]
    assert [len(c) for c in chunks] == [3, 1]
    assert list(calls_of([(1, 2)], star=True)) == [((1, 2), None)]
    with pytest.raises(ValueError, match="Chunksize must be 1\\+, not 0"):
        check_chunksize(0)


def test_outcomes_become_values_and_errors_with_remote_tracebacks():
    """(True, v) is a value; (False, e, text) is e itself, its cause the remote traceback."""
    error = KeyError("k")
    items = outcomes_to_items([(True, 1), (False, error, "Traceback: boom")])
    assert items[0] == (True, 1)
    assert items[1] == (False, error)
    assert isinstance(error.__cause__, multiprocessing.pool.RemoteTraceback)
    assert "boom" in str(error.__cause__)
