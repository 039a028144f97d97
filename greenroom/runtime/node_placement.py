"""Placement groups: create, remove, find by name, the table.

Reservations themselves are the Scheduler's; this owns the groups' names,
bundles and ready objects around them. Loop thread only.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from greenroom import exceptions
from greenroom.runtime import serialization, wire
from greenroom.runtime.object_table import ObjectTable
from greenroom.scheduler.errors import Unschedulable
from greenroom.scheduler.queue import Scheduler
from greenroom.scheduler.resources import ResourceSet


@dataclass(slots=True, eq=False)
class Group:
    name: str
    bundles: list[ResourceSet]
    strategy: str
    ready_id: bytes  # an object completed once the group is placed
    removed: bool = False
    owner: int = 0  # the process that created it: 0 the driver, else a worker id
    detached: bool = False  # outlives its owner

    def info(self, pg_id: str) -> wire.PlacementInfo:
        return wire.PlacementInfo(pg_id, [b.to_dict() for b in self.bundles], self.strategy, self.ready_id)


class PlacementGroups:
    """Owns the node's placement groups; see the module docstring."""

    def __init__(self, scheduler: Scheduler, objects: ObjectTable, schedule: Callable[[], None]) -> None:
        self.scheduler = scheduler
        self.objects = objects
        self.schedule = schedule
        self.groups: dict[str, Group] = {}
        self._names: dict[str, str] = {}
        self._counter = 0

    def info(self, placement: tuple | None) -> wire.PlacementInfo | None:
        """What a task learns of the group it runs in (for get_current_placement_group)."""
        if placement is None:
            return None
        group = self.groups.get(placement[0])
        return None if group is None else group.info(placement[0])

    def total(self, pg_id: str) -> ResourceSet:
        """What the group's bundles reserve together (nothing, for a group gone)."""
        total = ResourceSet.from_units({})
        group = self.groups.get(pg_id)
        for bundle in group.bundles if group is not None and not group.removed else []:
            total = total + bundle
        return total

    def placed(self, pg_id: str) -> None:
        """The scheduler reserved the group's bundles."""
        group = self.groups.get(pg_id)
        if group is not None:
            self.objects.complete(group.ready_id, wire.VALUE, serialization.dumps(True))

    def create(self, bundles: list[dict], strategy: str, name: str, detached: bool = False, owner: int = 0) -> list:
        if name and name in self._names:
            raise ValueError(f"a placement group named {name!r} already exists; pick another name")
        self._counter += 1
        pg_id = (b"pg" + self._counter.to_bytes(14, "little")).hex()
        resources = [ResourceSet.from_units(b) for b in bundles]
        try:
            self.scheduler.create_placement_group(pg_id, resources, strategy)
        except Unschedulable as e:
            raise ValueError(f"placement group {bundles_desc(resources)} can never be placed: {e}") from None
        ready_id = bytes.fromhex(pg_id) + b"\xff\xff\xff\xff"
        self.objects.create([ready_id], f"placement_group {name or pg_id}")
        self.objects.get(ready_id).permanent = True  # pg.ready() may be asked for any time
        self.groups[pg_id] = Group(name, resources, strategy, ready_id, owner=owner, detached=detached)
        if name:
            self._names[name] = pg_id
        self.schedule()
        return [pg_id, ready_id]

    def remove(self, pg_id: str) -> list:
        """Remove a group; returns the keys of the work that was queued in it (it fails)."""
        group = self.groups.get(pg_id)
        if group is None or group.removed:
            return []
        group.removed = True
        self._names.pop(group.name, None)
        queued = self.scheduler.remove_placement_group(pg_id)
        entry = self.objects.get(group.ready_id)
        if entry is not None and entry.kind is None:
            self.objects.complete(group.ready_id, wire.SYSTEM_ERROR, serialization.dumps(
                exceptions.RayError(f"placement group {pg_id} was removed before it was ready")
            ))  # fmt: skip
        self.schedule()
        return queued

    def owned_by(self, process: int) -> list[str]:
        """The live groups worker ``process`` created and did not detach: they go when it exits."""
        return [
            pg_id for pg_id, g in self.groups.items()
            if process and g.owner == process and not g.detached and not g.removed
        ]  # fmt: skip

    def by_name(self, name: str) -> wire.PlacementInfo:
        pg_id = self._names.get(name)
        if pg_id is None:
            raise ValueError(f"no placement group named {name!r}; known names: {sorted(self._names)}")
        return self.groups[pg_id].info(pg_id)

    def table(self) -> dict:
        table = {}
        for pg_id, group in self.groups.items():
            state = "REMOVED" if group.removed else self.scheduler.placement_group_state(pg_id)
            table[pg_id] = {
                "placement_group_id": pg_id,
                "name": group.name,
                "strategy": group.strategy,
                "state": state,
                "bundles": {i: b.to_dict() for i, b in enumerate(group.bundles)},
                "stats": {},
            }
        return table


def bundles_desc(bundles: list[ResourceSet]) -> str:
    return "[" + ", ".join(b.describe() for b in bundles) + "]"
