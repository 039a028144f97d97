"""Large values in shared memory: written once, mapped by readers without a copy.

One anonymous shared-memory file (memfd) per node, created before the zygote
starts, so every worker inherits it: nothing is left in /dev/shm, whatever
happens to the processes. The node's ``Allocator`` hands out page-aligned
blocks of it; a freed block is reused first, so its pages are already faulted
in (writing fresh shared memory runs at page-fault speed, a few times slower).

A value's out-of-band buffers (pickle protocol 5: numpy arrays, bytes-like
objects) go into one block; its payload is ``[header, offset, lengths, id]``.
A reader maps just that block, read-only, and holds a reference to the object
for as long as anything still uses the mapping (the mmap's finalizer drops
it), so a block is never reused under a live array.
"""

from __future__ import annotations

import bisect
import mmap
import os
import threading
import weakref
from typing import Any

from greenroom.runtime import serialization

PAGE = mmap.PAGESIZE
INLINE_LIMIT = 1 << 20  # values whose buffers total less stay in the node's table


def _round_up(n: int, to: int = PAGE) -> int:
    return (n + to - 1) // to * to


class StoreFullError(MemoryError):
    """Raised by the allocator; the runtime turns it into ObjectStoreFullError."""


class Allocator:
    """First-fit over page-aligned blocks, freed neighbours merged. Pure logic, thread-safe."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._starts: list[int] = [0]  # free blocks, sorted by offset
        self._lengths: dict[int, int] = {0: size}
        self._used: dict[int, int] = {}
        self._lock = threading.Lock()
        self.high_water = 0  # the end of the highest block ever handed out: pages below are warm

    @property
    def free_bytes(self) -> int:
        return sum(self._lengths.values())

    def allocate(self, nbytes: int) -> int:
        need = _round_up(max(nbytes, 1))
        with self._lock:
            for start in self._starts:
                length = self._lengths[start]
                if length >= need:
                    i = bisect.bisect_left(self._starts, start)
                    del self._starts[i]
                    del self._lengths[start]
                    if length > need:
                        bisect.insort(self._starts, start + need)
                        self._lengths[start + need] = length - need
                    self._used[start] = need
                    self.high_water = max(self.high_water, start + need)
                    return start
        raise StoreFullError(
            f"no room for {nbytes:,} bytes in the object store ({self.free_bytes:,} of {self.size:,} bytes "
            "free, perhaps not in one piece)"
        )

    def fits_warm(self, nbytes: int) -> bool:
        """Would a block of ``nbytes`` fit in pages used before (no fresh page faults)?"""
        need = _round_up(max(nbytes, 1))
        with self._lock:
            return any(start + need <= self.high_water and length >= need for start, length in self._lengths.items())

    def free(self, offset: int) -> None:
        with self._lock:
            length = self._used.pop(offset)
            i = bisect.bisect_left(self._starts, offset)
            # merge with the next free block
            if i < len(self._starts) and self._starts[i] == offset + length:
                length += self._lengths.pop(self._starts[i])
                del self._starts[i]
            # merge with the previous free block
            if i > 0:
                prev = self._starts[i - 1]
                if prev + self._lengths[prev] == offset:
                    self._lengths[prev] += length
                    return
            self._starts.insert(i, offset)
            self._lengths[offset] = length


class Arena:
    """This process's view of the node's shared-memory file."""

    def __init__(self, fd: int, size: int) -> None:
        self.fd = fd
        self.size = size
        self._whole: mmap.mmap | None = None  # for writes: one mapping, its pages stay mapped

    @classmethod
    def create(cls, size: int) -> Arena:
        fd = os.memfd_create("greenroom-objects", os.MFD_CLOEXEC)
        os.ftruncate(fd, size)
        return cls(fd, size)

    def write(self, offset: int, buffers: list) -> list[int]:
        """Copy buffers one after another (64-byte aligned) into the block at ``offset``."""
        lengths = [memoryview(b).nbytes for b in buffers]
        if self._whole is None:
            self._whole = mmap.mmap(self.fd, self.size)
        pos = offset
        for buf, n in zip(buffers, lengths):
            self._whole[pos : pos + n] = memoryview(buf).cast("B")
            pos = offset + _round_up(pos - offset + n, 64)
        return lengths

    def read(self, offset: int, lengths: list[int], on_release: Any) -> list[memoryview]:
        """Read-only views of the buffers; ``on_release()`` runs once none is used any more."""
        total = _layout_size(lengths)
        mm = mmap.mmap(self.fd, _round_up(total), offset=offset, prot=mmap.PROT_READ)
        weakref.finalize(mm, on_release)
        whole = memoryview(mm)
        views, pos = [], 0
        for n in lengths:
            views.append(whole[pos : pos + n])
            pos = _round_up(pos + n, 64)
        return views

    def close(self) -> None:
        if self._whole is not None:
            try:
                self._whole.close()
            except BufferError:  # a view is still exported; the memory goes with the process
                pass
        try:
            os.close(self.fd)
        except OSError:
            pass


def _layout_size(lengths: list[int]) -> int:
    total = 0
    for n in lengths:
        total = _round_up(total + n, 64)
    return max(total, 1)


def layout_size(buffers: list) -> int:
    return _layout_size([memoryview(b).nbytes for b in buffers])


def serialize(value: Any, allocate: Any, arena: Arena | None, object_id: bytes) -> bytes | list:
    """A stored value's payload: pickle bytes (framed with its buffers, serialization.FRAMED, when it
    has some), or ``[header, offset, lengths, id]`` with its buffers written to the arena when they
    total at least INLINE_LIMIT bytes."""
    buffers: list = []
    header = serialization.dumps_oob(value, buffers.append)
    if not buffers:
        return header
    raw = [b.raw() for b in buffers]
    size = layout_size(raw)
    if size < INLINE_LIMIT or arena is None:
        return serialization.frame(header, raw)
    offset = allocate(size)
    lengths = arena.write(offset, raw)
    return [header, offset, lengths, object_id]


def deserialize(payload: list, arena: Arena, on_read: Any, on_release: Any) -> Any:
    """The value of a shared payload, its buffers mapped read-only without a copy."""
    header, offset, lengths, object_id = payload
    on_read(object_id)
    views = arena.read(offset, lengths, lambda: on_release(object_id))
    return serialization.loads_oob(header, views)
