"""Framed values: buffers beside the pickle, given back read-only and without a copy."""

from __future__ import annotations

import numpy as np

from greenroom.runtime import serialization


def test_a_value_without_buffers_is_a_plain_pickle():
    blob = serialization.dumps_framed({"a": [1, 2.5, "x"]})
    assert blob[0] == 0x80 and serialization.loads(blob) == {"a": [1, 2.5, "x"]}


def test_arrays_come_back_equal_read_only_and_aligned_views_of_the_frame():
    small, odd = np.arange(10, dtype=np.float64), np.arange(7, dtype=np.int8)
    blob = serialization.dumps_framed({"small": small, "odd": odd, "text": "t", "again": small})
    assert blob[0] == serialization.FRAMED
    back = serialization.loads(blob)
    assert np.array_equal(back["small"], small) and np.array_equal(back["odd"], odd) and back["text"] == "t"
    for name in ("small", "odd"):
        arr = back[name]
        assert not arr.flags.writeable and arr.flags.aligned
        assert np.shares_memory(arr, np.frombuffer(blob, dtype=np.uint8))  # no copy: a view of the frame
    assert back["again"] is back["small"]  # pickle's memo: one array, twice


def test_a_memoryview_of_the_frame_loads_the_same():
    arrays = [np.full(3, i, dtype=np.int32) for i in range(5)]
    blob = serialization.dumps_framed(arrays)
    back = serialization.loads(memoryview(blob))
    assert [a.tolist() for a in back] == [[i] * 3 for i in range(5)]


def test_an_empty_array_and_a_zero_dimensional_one():
    blob = serialization.dumps_framed((np.zeros(0), np.float32(2.5), np.array(3)))
    empty, scalar, zero_d = serialization.loads(blob)
    assert empty.shape == (0,) and scalar == np.float32(2.5) and zero_d.shape == () and zero_d == 3
