"""Scheduling core: resources, GPU ids, placement groups, the task queue.

Pure logic: no I/O, no threads, no asyncio, nothing else of greenroom imported.
The runtime feeds a `Scheduler` events and carries out its `Decisions`.
"""

from greenroom.scheduler.deadlock import BlockedTask, find_deadlock
from greenroom.scheduler.errors import Unschedulable
from greenroom.scheduler.gpus import GpuGrant, GpuPool
from greenroom.scheduler.placement import (
    STRATEGIES,
    bundle_pool,
    placement_infeasible_reason,
    reserve_bundles,
    validate_bundles,
)
from greenroom.scheduler.pool import Allocation, ResourcePool
from greenroom.scheduler.queue import Decisions, Grant, Scheduler
from greenroom.scheduler.resources import (
    UNIT,
    ResourceSet,
    from_units,
    parse_resources,
    to_units,
)

__all__ = [
    "STRATEGIES",
    "UNIT",
    "Allocation",
    "BlockedTask",
    "Decisions",
    "GpuGrant",
    "GpuPool",
    "Grant",
    "ResourcePool",
    "ResourceSet",
    "Scheduler",
    "Unschedulable",
    "bundle_pool",
    "find_deadlock",
    "from_units",
    "parse_resources",
    "placement_infeasible_reason",
    "reserve_bundles",
    "to_units",
    "validate_bundles",
]
