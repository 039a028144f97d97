"""Part of the Node: placement groups (create, remove, find by name, the table).

Reservations themselves are the Scheduler's; this is the API around them.
State lives on the Node; this mixin only groups the methods. Loop thread only.
"""

from __future__ import annotations

from greenroom import exceptions
from greenroom.runtime import serialization, wire
from greenroom.scheduler.errors import Unschedulable
from greenroom.scheduler.resources import ResourceSet


class PlacementGroups:
    def placement_info(self, placement: tuple | None) -> list | None:
        """What a task learns of the group it runs in (for get_current_placement_group)."""
        if placement is None:
            return None
        pg = self.placement_groups.get(placement[0])
        if pg is None:
            return None
        return [placement[0], [b.to_dict() for b in pg["bundles"]], pg["strategy"], pg["ready"]]

    def api_create_placement_group(self, bundles: list[dict], strategy: str, name: str) -> list:
        if name and name in self._pg_names:
            raise ValueError(f"a placement group named {name!r} already exists; pick another name")
        self._pg_counter += 1
        pg_id = (b"pg" + self._pg_counter.to_bytes(14, "little")).hex()
        resources = [ResourceSet.from_units(b) for b in bundles]
        try:
            self.scheduler.create_placement_group(pg_id, resources, strategy)
        except Unschedulable as e:
            raise ValueError(f"placement group {bundles_desc(resources)} can never be placed: {e}") from None
        ready_id = bytes.fromhex(pg_id) + b"\xff\xff\xff\xff"
        self.objects.create([ready_id], f"placement_group {name or pg_id}")
        self.objects.get(ready_id).permanent = True  # pg.ready() may be asked for any time
        self.placement_groups[pg_id] = {"name": name, "bundles": resources, "strategy": strategy, "ready": ready_id}
        if name:
            self._pg_names[name] = pg_id
        self._schedule()
        return [pg_id, ready_id]

    def api_remove_placement_group(self, pg_id: str) -> None:
        pg = self.placement_groups.get(pg_id)
        if pg is None or pg.get("removed"):
            return
        pg["removed"] = True
        self._pg_names.pop(pg["name"], None)
        for key in self.scheduler.remove_placement_group(pg_id):
            task = self.tasks.get(key)
            if task is not None:
                self._fail(task, exceptions.TaskUnschedulableError(
                    f"task {task.spec.name!r} was queued in placement group {pg_id}, which was removed"
                ))  # fmt: skip
        entry = self.objects.get(pg["ready"])
        if entry is not None and entry.kind is None:
            self.objects.complete(pg["ready"], wire.SYSTEM_ERROR, serialization.dumps(
                exceptions.RayError(f"placement group {pg_id} was removed before it was ready")
            ))  # fmt: skip
        self._schedule()

    def api_get_placement_group(self, name: str) -> list:
        pg_id = self._pg_names.get(name)
        if pg_id is None:
            raise ValueError(f"no placement group named {name!r}; known names: {sorted(self._pg_names)}")
        pg = self.placement_groups[pg_id]
        return [pg_id, [b.to_dict() for b in pg["bundles"]], pg["strategy"], pg["ready"]]

    def api_placement_group_table(self) -> dict:
        table = {}
        for pg_id, pg in self.placement_groups.items():
            state = "REMOVED" if pg.get("removed") else self.scheduler.placement_group_state(pg_id)
            table[pg_id] = {
                "placement_group_id": pg_id,
                "name": pg["name"],
                "strategy": pg["strategy"],
                "state": state,
                "bundles": {i: b.to_dict() for i, b in enumerate(pg["bundles"])},
                "stats": {},
            }
        return table


def bundles_desc(bundles: list[ResourceSet]) -> str:
    return "[" + ", ".join(b.describe() for b in bundles) + "]"

