"""Private runtime hooks for greenroom's own libraries (Tune), which the public API does not offer.

Tune sits above the actors layer and must not import the runtime; util may.
Each hook is one call into the runtime, kept here so that a change to the
runtime's internals has one place to follow it.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from greenroom.runtime import state


def preload_modules(modules: list[str]) -> None:
    """Import ``modules`` once in the node's zygote, so every worker forked after starts with them.

    Raises:
        Exception: whatever the runtime raises where it has no zygote (another backend).
    """
    state.runtime().call("preload", modules)


def kv_put(key: str, value: bytes) -> None:
    """Store ``value`` under ``key`` in the node's small key-value store (node_state.py): what
    Tune publishes for the dashboard. At most 1 MiB a value, 1,000 keys."""
    state.runtime().call("state", "kv_put", key, bytes(value), True)


def kv_get(key: str) -> bytes | None:
    """The value under ``key``, or None."""
    return state.runtime().call("state", "kv_get", key)


def kv_delete(key: str) -> None:
    state.runtime().call("state", "kv_del", key)


def kv_keys(prefix: str = "") -> list[str]:
    """The keys that start with ``prefix``, sorted."""
    return state.runtime().call("state", "kv_keys", prefix)


@contextlib.contextmanager
def running() -> Iterator[bool]:
    """Yields whether greenroom runs in this process; until the block ends, shutdown() and
    init() wait. For the dashboard's thread, which must never start a node by asking."""
    with state.lock():
        yield state.current() is not None
