"""Private runtime hooks for greenroom's own libraries (Tune), which the public API does not offer.

Tune sits above the actors layer and must not import the runtime; util may.
Each hook is one call into the runtime, kept here so that a change to the
runtime's internals has one place to follow it.
"""

from __future__ import annotations

from greenroom.runtime import state
from greenroom.util.placement_group import PlacementGroup


def set_default_placement_group(placement_group: PlacementGroup) -> None:
    """Run this process's tasks and actors in ``placement_group`` (any bundle) unless
    they name a strategy: a Tune trial's "capture child tasks" for the trainable."""
    state.runtime().default_placement = (placement_group.id.hex(), -1)


def preload_modules(modules: list[str]) -> None:
    """Import ``modules`` once in the node's zygote, so every worker forked after starts with them.

    Raises:
        Exception: whatever the runtime raises where it has no zygote (another backend).
    """
    state.runtime().call("preload", modules)
