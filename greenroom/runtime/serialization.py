"""The one module that imports cloudpickle and msgpack.

Values (functions, arguments, results) are cloudpickle protocol 5 bytes. A value
with protocol-5 buffers (numpy arrays...) is *framed*: its buffers travel beside
its pickle, and ``loads`` maps them from the received bytes, without a copy and
read-only, as Ray's object store gives them at every size.
Wire messages are msgpack arrays written back to back on a stream: msgpack
is self-delimiting, so a streaming ``Unpacker`` splits frames in C without a
separate length prefix.
"""

from __future__ import annotations

import collections
import functools
import io
import pickle
import struct
from collections.abc import Callable
from typing import Any

import cloudpickle
import msgpack

PROTOCOL = 5

# Classes with a reducer registered in this process (util.register_serializer): class -> reduce.
_reducers: dict[type, Callable[[Any], tuple]] = {}


def register_reducer(cls: type, reduce: Callable[[Any], tuple]) -> None:
    """Pickle instances of exactly ``cls`` as ``reduce(obj)`` says, in this process."""
    _reducers[cls] = reduce


def deregister_reducer(cls: type) -> None:
    _reducers.pop(cls, None)


class _RegisteredPickler(cloudpickle.Pickler):
    # The C pickler reads its dispatch table when it is made: a class attribute, not a late setattr.
    dispatch_table = collections.ChainMap(_reducers, cloudpickle.Pickler.dispatch_table)  # noqa: RUF012 (shared on purpose)


def _dumps(value: Any, buffer_callback: Any = None) -> bytes:
    if not _reducers:
        return cloudpickle.dumps(value, protocol=PROTOCOL, buffer_callback=buffer_callback)
    out = io.BytesIO()
    _RegisteredPickler(out, protocol=PROTOCOL, buffer_callback=buffer_callback).dump(value)
    return out.getvalue()


def dumps(value: Any) -> bytes:
    """Pickle a value (by value for ``__main__`` definitions, by reference otherwise)."""
    return _dumps(value)


# Values of these exact types pickle the same with the C pickler (no code, no refs, no
# buffers), and skipping cloudpickle's Python-level Pickler saves most of a small call.
PLAIN_TYPES = frozenset({int, float, str, bool, type(None), complex})
PLAIN_MAX_LEN = 4096  # longer strings go the general way (they may be worth sharing)


def is_plain(value: Any) -> bool:
    """True for a small value of a builtin scalar type (see PLAIN_TYPES)."""
    kind = type(value)
    return kind in PLAIN_TYPES and (kind is not str or len(value) <= PLAIN_MAX_LEN)


def dumps_plain(value: Any) -> bytes:
    """Pickle a value made only of plain scalars (and tuples/dicts of them) with the C pickler."""
    return pickle.dumps(value, protocol=PROTOCOL)


# A framed value: FRAMED, the buffer count n, then n + 1 lengths (the pickle's, then each buffer's),
# the pickle, and the buffers, each starting at a multiple of FRAME_ALIGN from the frame's start.
# A pickle starts with its PROTO opcode (0x80), never FRAMED.
FRAMED = 0
FRAME_ALIGN = 64
_FRAME_HEAD = struct.Struct("<BI")


def dumps_framed(value: Any) -> bytes:
    """Pickle a value whose buffers (numpy arrays...) ``loads`` gives back read-only, without a copy."""
    buffers: list = []
    header = _dumps(value, buffers.append)
    return frame(header, [b.raw() for b in buffers]) if buffers else header


def frame(header: bytes, buffers: list) -> bytes:
    """A framed value from its out-of-band pickle and buffers (memoryviews; see ``FRAMED``)."""
    count = len(buffers)
    lengths = [b.nbytes for b in buffers]
    parts = [_FRAME_HEAD.pack(FRAMED, count), _lengths(count).pack(len(header), *lengths), header]
    pos = _FRAME_HEAD.size + 8 * (count + 1) + len(header)
    for buf, n in zip(buffers, lengths):
        pad = -pos % FRAME_ALIGN
        if pad:
            parts.append(_ZEROS[:pad])
        parts.append(buf)
        pos += pad + n
    return b"".join(parts)


_ZEROS = bytes(FRAME_ALIGN)


@functools.lru_cache(maxsize=64)
def _lengths(count: int) -> struct.Struct:
    return struct.Struct(f"<{count + 1}Q")


def _loads_framed(data: bytes | memoryview) -> Any:
    view = memoryview(data)
    _, count = _FRAME_HEAD.unpack_from(view)
    header_len, *lengths = _lengths(count).unpack_from(view, _FRAME_HEAD.size)
    pos = _FRAME_HEAD.size + 8 * (count + 1)
    header = view[pos : pos + header_len]
    pos += header_len
    if not view.readonly:  # the frame in writable memory: its arrays still come back read-only
        view = view.toreadonly()
    buffers = []
    for n in lengths:
        pos += -pos % FRAME_ALIGN
        buffers.append(view[pos : pos + n])
        pos += n
    return pickle.loads(header, buffers=buffers)


def loads(data: bytes | memoryview) -> Any:
    if data[0] == FRAMED:
        return _loads_framed(data)
    return pickle.loads(data)


def pack(message: Any) -> bytes:
    return msgpack.packb(message, use_bin_type=True)


def unpack(data: bytes) -> Any:
    return msgpack.unpackb(data, raw=False, use_list=True)


def stream_unpacker() -> msgpack.Unpacker:
    """A streaming decoder: ``feed(bytes)`` then iterate to get whole messages."""
    return msgpack.Unpacker(raw=False, use_list=True, max_buffer_size=2**31 - 1)


def dumps_oob(value: Any, buffer_callback: Any) -> bytes:
    """Pickle with protocol-5 buffers (numpy arrays...) handed to ``buffer_callback``."""
    return _dumps(value, buffer_callback)


def loads_oob(header: bytes, buffers: list) -> Any:
    return pickle.loads(header, buffers=buffers)
