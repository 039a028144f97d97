"""Private runtime hooks for greenroom's own libraries (Tune), which the public API does not offer.

Tune sits above the actors layer and must not import the runtime; util may.
Each hook is one call into the runtime, kept here so that a change to the
runtime's internals has one place to follow it.
"""

from __future__ import annotations

from greenroom.runtime import state


def preload_modules(modules: list[str]) -> None:
    """Import ``modules`` once in the node's zygote, so every worker forked after starts with them.

    Raises:
        Exception: whatever the runtime raises where it has no zygote (another backend).
    """
    state.runtime().call("preload", modules)
