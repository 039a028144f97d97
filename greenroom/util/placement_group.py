"""Placement groups at Ray's path: reserve bundles of resources atomically.

On one machine every strategy packs, except STRICT_SPREAD with more than one
bundle, which can never be placed and raises at once (Ray would wait forever).
"""

from __future__ import annotations

from typing import Any

from greenroom.runtime import state
from greenroom.runtime.object_ref import ObjectRef
from greenroom.scheduler.placement import validate_bundles


class PlacementGroupID:
    __slots__ = ("_id",)

    def __init__(self, id: bytes) -> None:
        self._id = id

    def binary(self) -> bytes:
        return self._id

    def hex(self) -> str:
        return self._id.hex()

    def __eq__(self, other: object) -> bool:
        return isinstance(other, PlacementGroupID) and other._id == self._id

    def __hash__(self) -> int:
        return hash(self._id)

    def __repr__(self) -> str:
        return f"PlacementGroupID({self.hex()})"


class PlacementGroup:
    """A handle to a placement group: its id, bundles, and readiness."""

    def __init__(self, id: str, bundles: list[dict], strategy: str, ready_id: bytes) -> None:
        self.id = PlacementGroupID(bytes.fromhex(id))
        self.bundle_specs = bundles
        self.strategy = strategy
        self._ready_id = ready_id

    @property
    def bundle_count(self) -> int:
        return len(self.bundle_specs)

    def ready(self) -> ObjectRef:
        """An ObjectRef that resolves once every bundle is reserved."""
        return ObjectRef(self._ready_id)

    def wait(self, timeout_seconds: float | None = 30) -> bool:
        """Block until the group is reserved; False if ``timeout_seconds`` passed first."""
        from greenroom.runtime.api import wait

        ready, _ = wait([self.ready()], timeout=timeout_seconds)
        return bool(ready)

    def __reduce__(self) -> Any:
        return (PlacementGroup, (self.id.hex(), self.bundle_specs, self.strategy, self._ready_id))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, PlacementGroup) and other.id == self.id

    def __hash__(self) -> int:
        return hash(self.id)

    def __repr__(self) -> str:
        return f"PlacementGroup(id={self.id.hex()}, bundles={self.bundle_specs}, strategy={self.strategy!r})"


def placement_group(
    bundles: list[dict[str, float]],
    strategy: str = "PACK",
    name: str = "",
    lifetime: str | None = None,
    _soft_target_node_id: Any = None,
    bundle_label_selector: Any = None,
) -> PlacementGroup:
    """Reserve ``bundles`` (e.g. ``[{"CPU": 2, "GPU": 1}, {"CPU": 1}]``) all or none.

    As in Ray, a group created inside a task or actor is removed when its process
    exits, unless ``lifetime="detached"``; the driver's live until ``shutdown()``.

    Raises:
        ValueError: malformed bundles, an unknown strategy, or a group this node
            can never hold (the message names what was asked and what exists).
    """
    resources = validate_bundles(bundles, strategy)
    if lifetime not in (None, "detached"):
        raise ValueError(f"placement_group(lifetime={lifetime!r}): expected None or 'detached'")
    if not isinstance(name, str):
        raise TypeError(f"placement_group(name={name!r}): expected a string")
    units = [r.to_units_dict() for r in resources]
    detached = lifetime == "detached"
    pg_id, ready_id = state.runtime().call("create_placement_group", units, strategy, name, detached)
    return PlacementGroup(pg_id, [dict(b) for b in bundles], strategy, ready_id)


def remove_placement_group(placement_group: PlacementGroup) -> None:
    """Free a group's reservation; tasks still queued in it fail."""
    if not isinstance(placement_group, PlacementGroup):
        raise TypeError(f"remove_placement_group() expects a PlacementGroup, got {placement_group!r:.100}")
    state.runtime().call("remove_placement_group", placement_group.id.hex())


def get_placement_group(placement_group_name: str) -> PlacementGroup:
    """The named placement group. Raises ValueError if there is none by that name."""
    pg_id, bundles, strategy, ready_id = state.runtime().call("get_placement_group", placement_group_name)
    return PlacementGroup(pg_id, bundles, strategy, ready_id)


def placement_group_table(placement_group: PlacementGroup | None = None) -> dict:
    """Ray's table: per group its id, name, strategy, state and bundles."""
    table = state.runtime().call("placement_group_table")
    if placement_group is not None:
        return table.get(placement_group.id.hex(), {})
    return table


def get_current_placement_group() -> PlacementGroup | None:
    """The placement group the current task runs in, if any."""
    from greenroom.runtime.context import task_context

    ctx = task_context()
    if ctx is None or ctx.placement is None:
        return None
    return PlacementGroup(*ctx.placement)
