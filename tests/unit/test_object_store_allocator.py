"""The shared-memory allocator: page-aligned first fit, reuse of freed blocks, merging."""

from __future__ import annotations

import pytest

from greenroom.runtime.object_store import PAGE, Allocator, StoreFullError, layout_size


def test_blocks_are_page_aligned_and_disjoint():
    """Allocations start on page boundaries and never overlap."""
    a = Allocator(100 * PAGE)
    x = a.allocate(1)
    y = a.allocate(PAGE + 1)
    z = a.allocate(3 * PAGE)
    assert x % PAGE == y % PAGE == z % PAGE == 0
    assert x + PAGE <= y and y + 2 * PAGE <= z


def test_freed_block_is_reused_first():
    """First fit: a freed block at the start is handed out again (its pages are warm)."""
    a = Allocator(100 * PAGE)
    first = a.allocate(10 * PAGE)
    a.allocate(PAGE)
    a.free(first)
    assert a.allocate(5 * PAGE) == first


def test_neighbours_merge_back_into_one_block():
    """Freeing adjacent blocks merges them, so a large request fits again."""
    a = Allocator(10 * PAGE)
    blocks = [a.allocate(2 * PAGE) for _ in range(5)]
    with pytest.raises(StoreFullError):
        a.allocate(PAGE)
    for b in (blocks[1], blocks[3], blocks[2], blocks[0], blocks[4]):
        a.free(b)
    assert a.free_bytes == 10 * PAGE
    assert a.allocate(10 * PAGE) == 0


def test_full_store_names_the_sizes():
    """A request that does not fit says how much was asked and how much is free."""
    a = Allocator(4 * PAGE)
    a.allocate(3 * PAGE)
    with pytest.raises(StoreFullError, match=r"no room for 8,192 bytes.*4,096 of 16,384"):
        a.allocate(2 * PAGE)


def test_layout_aligns_each_buffer_to_64_bytes():
    """Several buffers in one block each start 64-byte aligned."""
    assert layout_size([b"x" * 10, b"y" * 70]) == 64 + 128
