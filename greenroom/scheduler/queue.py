"""The node's scheduling state: events in (submit, release, block...), decisions out.

Queued tasks are grouped by *shape*: the same request with the same placement.
Tasks of one shape are interchangeable, so if a shape's oldest task does not fit,
none of its others does; `schedule()` therefore tries each shape's head only, in
the order of the heads' submission, and drops a shape at its first failure. A
call costs O((shapes + grants) log shapes), however many tasks are queued, and a
shape that must wait never holds up another shape that fits.

Placement groups reserve their bundles from the node pool; each reserved bundle
is a pool of its own that tasks placed in it are granted from.

Pipelining: a running task may take the next queued task of its shape as its
*follower* (`take_follower`). The follower leaves the queue and, when its
leader finishes, inherits the leader's allocation as is (`hand_over`), so the
runtime can send it to the leader's worker ahead of time. `recall` puts a
follower back in its queue at its old place.
"""

from __future__ import annotations

import heapq
from collections import deque
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, field
from typing import Literal

from greenroom.scheduler.cpus import core_capacities
from greenroom.scheduler.errors import Unschedulable
from greenroom.scheduler.placement import (
    bundle_pool,
    placement_infeasible_reason,
    reserve_bundles,
    unreserved_bundle_pool,
    validate_strategy,
)
from greenroom.scheduler.pool import Allocation, ResourcePool
from greenroom.scheduler.resources import ResourceSet

__all__ = ["Decisions", "Grant", "PlacementGroupState", "Scheduler"]

PlacementGroupState = Literal["PENDING", "CREATED", "REMOVED"]
Placement = tuple[Hashable, int]  # (placement group id, bundle index; -1 = any bundle)
_Shape = tuple[ResourceSet, "Placement | None"]


@dataclass(frozen=True, slots=True)
class Grant:
    """A queued task may start now, holding `allocation`.

    `placement` is (pg_id, bundle index actually used), None outside a group.
    """

    key: Hashable
    allocation: Allocation
    placement: Placement | None = None


@dataclass(frozen=True, slots=True)
class Decisions:
    """What one `Scheduler.schedule()` call decided."""

    grants: list[Grant] = field(default_factory=list)
    placement_groups_ready: list[Hashable] = field(default_factory=list)


@dataclass(slots=True)
class _Group:
    bundles: list[ResourceSet]
    strategy: str
    state: PlacementGroupState = "PENDING"
    allocations: list[Allocation] = field(default_factory=list)
    pools: list[ResourcePool] = field(default_factory=list)


@dataclass(slots=True)
class _Running:
    allocation: Allocation
    pool: ResourcePool  # where it goes back; the node pool once its group is removed
    placement: Placement | None
    shape: _Shape
    blocked: bool = False
    follower: Hashable | None = None
    follower_seq: int = 0

    @property
    def lendable(self) -> ResourceSet:
        # Only CPU is lent: GPU memory and custom resources stay with the process.
        return ResourceSet.from_units({"CPU": self.allocation.resources.get("CPU")})


@dataclass(slots=True)
class _Queue:
    """One shape's FIFO; cancelled entries are skipped lazily (see `_head`)."""

    entries: deque[tuple[int, Hashable]] = field(default_factory=deque)
    live: int = 0


class Scheduler:
    """All scheduling state of one node. Synchronous; the runtime calls it from its loop."""

    def __init__(self, total: ResourceSet, *, cpu_ids: bool = False) -> None:
        """Args:
            total: the node's resources (GPU ids 0..n-1, whole devices).
            cpu_ids: hand out CPU core ids too (``cpus.py``), for pinning work to cores.
        """
        self._cpu_ids = cpu_ids
        cores = core_capacities(total.get("CPU")) if cpu_ids else None
        self._pool = ResourcePool(total, cpu_capacities=cores)
        self._seq = 0
        self._queues: dict[_Shape, _Queue] = {}
        self._queued: dict[Hashable, tuple[int, _Shape]] = {}  # key -> (seq, shape)
        self._running: dict[Hashable, _Running] = {}
        self._leaders: dict[Hashable, Hashable] = {}  # follower -> the running task it follows
        self._fits_node: set[ResourceSet] = set()  # requests known to fit the node
        self._groups: dict[Hashable, _Group] = {}
        self._pending_groups: dict[Hashable, None] = {}  # ordered set, creation order

    # -- node --------------------------------------------------------------------

    @property
    def pool(self) -> ResourcePool:
        """The node's pool (bundle reservations are taken out of it)."""
        return self._pool

    @property
    def total(self) -> ResourceSet:
        """The node's resources."""
        return self._pool.total

    @property
    def available(self) -> ResourceSet:
        """The node pool's free resources (excluding free space inside bundles)."""
        return self._pool.available

    # -- tasks -------------------------------------------------------------------

    def submit(
        self, key: Hashable, request: ResourceSet, placement: Placement | None = None
    ) -> None:
        """Queue a task (or actor creation) under the caller's `key`.

        Args:
            placement: (pg_id, bundle index) to run inside a placement group;
                index -1 means any bundle.

        Raises:
            Unschedulable: the request can never fit the node, the bundle (any
                bundle for -1), or the placement group does not exist.
            ValueError: `key` is already queued or running, or the bundle index
                is out of range.
        """
        if key in self._queued or key in self._running or key in self._leaders:
            raise ValueError(f"task key {key!r} is already queued or running; keys must be unique")
        if placement is not None or request not in self._fits_node:
            reason = self.infeasible_reason(request, placement)
            if reason is not None:
                raise Unschedulable(reason)
            if placement is None:  # the node's totals never change: once feasible, always
                self._fits_node.add(request)
        shape: _Shape = (request, placement)
        self._seq += 1
        queue = self._queues.get(shape)
        if queue is None:
            queue = self._queues[shape] = _Queue()
        queue.entries.append((self._seq, key))
        queue.live += 1
        self._queued[key] = (self._seq, shape)

    def infeasible_reason(self, request: ResourceSet, placement: Placement | None = None) -> str | None:
        """Why `request` can never run here (in the node, or in the named bundle), else None.

        Raises:
            ValueError: the bundle index is out of range for the group.
        """
        if placement is None:
            return self._pool.infeasible_reason(request)
        return self._placement_reason(request, placement)

    def _placement_reason(self, request: ResourceSet, placement: Placement) -> str | None:
        if not isinstance(placement, tuple) or len(placement) != 2:
            raise TypeError(f"placement={placement!r}: expected (placement_group_id, bundle_index)")
        pg_id, index = placement
        group = self._groups.get(pg_id)
        if group is None or group.state == "REMOVED":
            what = "was removed" if group is not None else "does not exist"
            return (
                f"placement group {pg_id!r} {what}; create it before submitting "
                f"{request.describe()} into it, or submit without a placement group"
            )
        count = len(group.bundles)
        if isinstance(index, bool) or not isinstance(index, int) or not -1 <= index < count:
            raise ValueError(
                f"placement_group_bundle_index={index!r}: placement group {pg_id!r} has "
                f"{count} bundle(s); use 0..{count - 1}, or -1 for any bundle"
            )
        pools = self._bundle_pools_for_check(pg_id, group)
        candidates = range(count) if index == -1 else [index]
        reasons = [pools[i].infeasible_reason(request) for i in candidates]
        if any(r is None for r in reasons):
            return None
        if index != -1:
            return reasons[0]
        return (
            f"request {request.describe()} can never be scheduled in placement group {pg_id!r}: "
            f"it fits none of its bundles {[b.describe() for b in group.bundles]!r}; "
            f"lower the request or create the group with a larger bundle"
        )

    def _bundle_pools_for_check(self, pg_id: Hashable, group: _Group) -> list[ResourcePool]:
        if group.state == "CREATED":
            return group.pools
        return [
            unreserved_bundle_pool(b, label=f"bundle {i} of placement group {pg_id!r}", cpu_ids=self._cpu_ids)
            for i, b in enumerate(group.bundles)
        ]

    def cancel(self, key: Hashable) -> bool:
        """Drop a queued task; False if it is not queued (running tasks are not touched)."""
        entry = self._queued.pop(key, None)
        if entry is None:
            return False
        _, shape = entry
        queue = self._queues[shape]
        queue.live -= 1
        if queue.live == 0:
            del self._queues[shape]
        elif len(queue.entries) > 2 * queue.live + 64:
            # Lazy deletion leaves stale entries; compact before they dominate.
            queue.entries = deque(
                (s, k) for s, k in queue.entries if self._queued.get(k, (None,))[0] == s
            )
        return True

    def is_queued(self, key: Hashable) -> bool:
        """True if `key` waits in the queue."""
        return key in self._queued

    def has_waiting(self) -> bool:
        """True if a task or a placement group waits (`schedule()` may have work)."""
        return bool(self._queued) or bool(self._pending_groups)

    def queued_count(self) -> int:
        """How many tasks wait in the queue."""
        return len(self._queued)

    def held(self, key: Hashable) -> Allocation | None:
        """The allocation of a granted (running) task, else None."""
        running = self._running.get(key)
        return None if running is None else running.allocation

    def is_blocked(self, key: Hashable) -> bool:
        """True if the running task `key` is blocked in get() (its CPU lent)."""
        running = self._running.get(key)
        return running is not None and running.blocked

    def release(self, key: Hashable) -> None:
        """A granted task finished: give its allocation back to its pool.

        Raises:
            KeyError: `key` is not running (never granted, or already released).
        """
        running = self._running.get(key)
        if running is None:
            raise KeyError(f"release of task {key!r}: it holds no resources (not running)")
        if running.follower is not None:
            self.recall(running.follower)
        del self._running[key]
        if running.blocked:
            running.pool.reclaim(running.lendable, running.allocation.cpus)
        running.pool.release(running.allocation)

    # -- pipelining ----------------------------------------------------------------

    def take_follower(
        self, key: Hashable, accept: Callable[[Hashable], bool] = lambda key: True
    ) -> Hashable | None:
        """Take the oldest queued task of running task `key`'s shape as its follower.

        None if `key` is blocked, already has a follower, or no queued task of
        its shape is left, or `accept` refuses that task (it then stays queued).
        """
        running = self._get_running(key, "take_follower")
        if running.blocked or running.follower is not None:
            return None
        queue = self._queues.get(running.shape)
        if queue is None:
            return None
        seq = self._head(queue)
        if seq is None:
            return None
        follower = queue.entries[0][1]
        if not accept(follower):
            return None
        queue.entries.popleft()
        del self._queued[follower]
        queue.live -= 1
        if queue.live == 0:
            del self._queues[running.shape]
        running.follower = follower
        running.follower_seq = seq
        self._leaders[follower] = key
        return follower

    def hand_over(self, key: Hashable) -> Hashable | None:
        """Running task `key` finished: its follower (returned) now holds its allocation.

        Without a follower this is `release(key)` and returns None.
        """
        running = self._get_running(key, "hand_over")
        follower = running.follower
        if follower is None:
            self.release(key)
            return None
        del self._running[key]
        del self._leaders[follower]
        if running.blocked:
            running.pool.reclaim(running.lendable, running.allocation.cpus)
        running.blocked = False
        running.follower = None
        self._running[follower] = running
        return follower

    def recall(self, follower: Hashable) -> None:
        """Put a follower back in its queue, where it was before it was taken."""
        leader = self._running[self._leaders.pop(follower)]
        seq, shape = leader.follower_seq, leader.shape
        leader.follower = None
        queue = self._queues.get(shape)
        if queue is None:
            queue = self._queues[shape] = _Queue()
        entries = queue.entries
        at = 0
        while at < len(entries) and entries[at][0] < seq:
            at += 1
        entries.insert(at, (seq, follower))
        queue.live += 1
        self._queued[follower] = (seq, shape)

    def drop_follower(self, follower: Hashable) -> None:
        """Forget a follower that will never run (cancelled before it started)."""
        self._running[self._leaders.pop(follower)].follower = None

    def follower_of(self, key: Hashable) -> Hashable | None:
        """The follower of running task `key`, if any."""
        running = self._running.get(key)
        return None if running is None else running.follower

    def block(self, key: Hashable) -> None:
        """A running task blocks in get(): lend its CPU to others (and give up its
        follower, which goes back to the queue). No-op if already blocked."""
        running = self._get_running(key, "block")
        if running.follower is not None:
            self.recall(running.follower)
        if not running.blocked:
            running.pool.lend(running.lendable, running.allocation.cpus)
            running.blocked = True

    def unblock(self, key: Hashable) -> None:
        """A blocked task resumes: take its CPU back, even if that oversubscribes."""
        running = self._get_running(key, "unblock")
        if running.blocked:
            running.pool.reclaim(running.lendable, running.allocation.cpus)
            running.blocked = False

    def _get_running(self, key: Hashable, action: str) -> _Running:
        running = self._running.get(key)
        if running is None:
            raise KeyError(f"{action} of task {key!r}: it is not running")
        return running

    # -- scheduling --------------------------------------------------------------

    def schedule(self) -> Decisions:
        """Reserve pending placement groups, then grant queued tasks, as much as fits."""
        decisions = Decisions()
        # Groups first, in creation order; one that does not fit waits without
        # holding up later ones (same rule as task shapes).
        for pg_id in list(self._pending_groups):
            group = self._groups[pg_id]
            allocations = reserve_bundles(self._pool, group.bundles)
            if allocations is None:
                continue
            del self._pending_groups[pg_id]
            group.state = "CREATED"
            group.allocations = allocations
            group.pools = [
                bundle_pool(a, label=f"bundle {i} of placement group {pg_id!r}", cpu_ids=self._cpu_ids)
                for i, a in enumerate(allocations)
            ]
            decisions.placement_groups_ready.append(pg_id)

        # Merge the shapes' FIFOs by the head's sequence number (unique, so the
        # heap never compares shapes). A shape leaves the heap at its first failure.
        heap: list[tuple[int, _Shape]] = []
        for shape, queue in self._queues.items():
            head = self._head(queue)
            if head is not None:
                heap.append((head, shape))
        heapq.heapify(heap)
        while heap:
            _, shape = heapq.heappop(heap)
            queue = self._queues[shape]
            placed = self._try_place(*shape)
            if placed is None:
                continue
            allocation, pool, placement = placed
            _, key = queue.entries.popleft()
            del self._queued[key]
            queue.live -= 1
            self._running[key] = _Running(allocation, pool, placement, shape)
            decisions.grants.append(Grant(key, allocation, placement))
            head = self._head(queue)
            if head is None:
                del self._queues[shape]
            else:
                heapq.heappush(heap, (head, shape))
        return decisions

    def _head(self, queue: _Queue) -> int | None:
        """Sequence number of the oldest live entry, dropping cancelled ones before it."""
        entries = queue.entries
        while entries:
            seq, key = entries[0]
            entry = self._queued.get(key)
            if entry is not None and entry[0] == seq:
                return seq
            entries.popleft()
        return None

    def _try_place(
        self, request: ResourceSet, placement: Placement | None
    ) -> tuple[Allocation, ResourcePool, Placement | None] | None:
        if placement is None:
            allocation = self._pool.try_acquire(request)
            return None if allocation is None else (allocation, self._pool, None)
        pg_id, index = placement
        group = self._groups[pg_id]
        if group.state != "CREATED":
            return None
        for i in range(len(group.pools)) if index == -1 else (index,):
            allocation = group.pools[i].try_acquire(request)
            if allocation is not None:
                return allocation, group.pools[i], (pg_id, i)
        return None

    # -- placement groups --------------------------------------------------------

    def create_placement_group(
        self, pg_id: Hashable, bundles: Sequence[ResourceSet], strategy: str
    ) -> None:
        """Register a placement group; `schedule()` reserves it when it fits.

        Raises:
            Unschedulable: it can never be placed on this node.
            ValueError: `pg_id` is already used, no bundles, or unknown strategy.
        """
        if pg_id in self._groups:
            raise ValueError(f"placement group id {pg_id!r} is already used")
        validate_strategy(strategy)
        bundles = list(bundles)
        if not bundles:
            raise ValueError(f"placement group {pg_id!r}: needs at least one bundle")
        reason = placement_infeasible_reason(self._pool, bundles, strategy)
        if reason is not None:
            raise Unschedulable(reason)
        self._groups[pg_id] = _Group(bundles, strategy)
        self._pending_groups[pg_id] = None

    def placement_group_state(self, pg_id: Hashable) -> PlacementGroupState:
        """The group's state: "PENDING", "CREATED" or "REMOVED". KeyError if unknown."""
        return self._group(pg_id).state

    def bundle_allocations(self, pg_id: Hashable) -> list[Allocation]:
        """The reservations of a created group, in bundle order; [] if not created."""
        return list(self._group(pg_id).allocations)

    def remove_placement_group(self, pg_id: Hashable) -> list[Hashable]:
        """Free a group's reservations; return the keys of tasks queued into it.

        Those tasks leave the queue (the runtime fails them). Tasks running in
        the group keep their allocation until `release`, which then returns it
        to the node pool. Removing a removed group returns [].
        """
        group = self._group(pg_id)
        if group.state == "REMOVED":
            return []
        dropped: list[tuple[int, Hashable]] = []
        for shape in [s for s in self._queues if s[1] is not None and s[1][0] == pg_id]:
            for seq, key in self._queues.pop(shape).entries:
                if self._queued.get(key, (None,))[0] == seq:
                    del self._queued[key]
                    dropped.append((seq, key))
        if group.state == "PENDING":
            del self._pending_groups[pg_id]
        else:
            self._return_bundles(group)
        group.state = "REMOVED"
        group.allocations = []
        group.pools = []
        return [key for _, key in sorted(dropped, key=lambda item: item[0])]

    def _return_bundles(self, group: _Group) -> None:
        """Give the node every part of the group's bundles that no running task holds."""
        for allocation, pool in zip(group.allocations, group.pools, strict=True):
            in_use = ResourceSet()
            gpu_free = dict(allocation.gpus)
            cpu_free = dict(allocation.cpus)
            orphans = [r for r in self._running.values() if r.pool is pool]
            for running in orphans:
                in_use = in_use + running.allocation.resources
                for gpu_id, units in running.allocation.gpus:
                    gpu_free[gpu_id] -= units
                for core, units in running.allocation.cpus:
                    cpu_free[core] -= units
            free = Allocation(
                allocation.resources - in_use,
                tuple((i, u) for i, u in gpu_free.items() if u),
                tuple((i, u) for i, u in cpu_free.items() if u),
            )
            self._pool.release(free)
            # Running tasks now belong to the node pool; a blocked one's lent CPU
            # is lent to the node, so its unblock/release balance there.
            for running in orphans:
                running.pool = self._pool
                if running.blocked:
                    self._pool.lend(running.lendable, running.allocation.cpus)

    def _group(self, pg_id: Hashable) -> _Group:
        group = self._groups.get(pg_id)
        if group is None:
            raise KeyError(f"no placement group {pg_id!r}; known ids: {list(self._groups)!r}")
        return group

    def __repr__(self) -> str:
        return (
            f"Scheduler(available={self.available.describe()}, queued={len(self._queued)}, "
            f"running={len(self._running)}, shapes={len(self._queues)})"
        )
