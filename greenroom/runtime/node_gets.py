"""get() and wait() from workers, and the deadlock watch.

A task blocked in get() lends its CPU back (so the work it waits on can run);
an actor keeps its resources for life. When blocked holders wait on work that
only their own resources could ever run, the waiting gets fail with
ResourceDeadlockError instead of hanging (Ray hangs). Loop thread only.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from greenroom import exceptions
from greenroom.runtime import serialization, wire
from greenroom.runtime.node_loop import NodeLoop
from greenroom.runtime.object_table import ObjectTable
from greenroom.runtime.task_state import RUNNING, STARTING
from greenroom.runtime.worker_pool import WorkerProc
from greenroom.scheduler.deadlock import BlockedTask, find_deadlock
from greenroom.scheduler.queue import Scheduler
from greenroom.scheduler.resources import ResourceSet


@dataclass(slots=True, eq=False)
class PendingGet:
    """A worker's get()/wait() that is waiting for objects."""

    worker: WorkerProc
    rid: int
    ids: list
    payloads: bool  # get() returns payloads; wait() returns ready ids
    timeout: float | None
    remaining: int = 0
    timer: Any = None
    done: bool = False
    holder: bytes | None = None  # the blocked task's id, or the actor's


class BlockingGets:
    """Owns the gets in progress in workers; see the module docstring."""

    def __init__(self, loop: NodeLoop, objects: ObjectTable, scheduler: Scheduler,
                 task_record: Callable[[bytes], Any], describe_actor: Callable[[bytes], str | None],
                 actor_placement: Callable[[bytes], tuple | None], group_total: Callable[[str], Any],
                 schedule: Callable[[], None]) -> None:  # fmt: skip
        self.loop = loop
        self.objects = objects
        self.scheduler = scheduler
        self.task_record = task_record  # task id -> its TaskRecord, or None
        self.describe_actor = describe_actor
        self.actor_placement = actor_placement  # actor id -> its (pg id, bundle) or None
        self.group_total = group_total  # pg id -> what its bundles reserve, together
        self.schedule = schedule
        self._blocked: dict[bytes, PendingGet] = {}  # task id -> its get() in progress
        self._actor_gets: list[PendingGet] = []  # actors' gets in progress

    @property
    def any(self) -> bool:
        """Whether some worker waits in get(): the deadlock watch must run."""
        return bool(self._blocked) or bool(self._actor_gets)

    def request(self, w: WorkerProc, rid: int, ids: list, num: int, timeout: float | None, payloads: bool) -> None:
        entries = self.objects.entries
        for oid in ids:
            if oid not in entries:
                raise exceptions.ObjectFreedError(
                    f"object {oid.hex()} is unknown to this node: it was freed, or comes from an earlier session"
                )
        pending = PendingGet(w, rid, ids, payloads, timeout)
        ready = sum(1 for oid in ids if entries[oid].kind is not None)
        pending.remaining = num - ready
        if pending.remaining <= 0 or timeout == 0:
            self._reply(pending)
            return

        def arrived(_oid: bytes, _entry: Any) -> None:
            self.loop.on_loop(self._arrived, pending)

        for oid in ids:
            self.objects.on_ready(oid, arrived)
        if pending.done:
            return
        if timeout is not None:
            pending.timer = self.loop.loop.call_later(timeout, self._reply, pending, True)
        task = w.task
        if task is not None:
            # Blocked in get(): lend the task's CPU back so the work it waits on can run.
            pending.holder = task.spec.task_id
            self._blocked[pending.holder] = pending
            self.scheduler.block(pending.holder)
            self.schedule()
        elif w.actor is not None:  # an actor keeps its resources; only watch for deadlock
            pending.holder = w.actor.spec.actor_id
            self._actor_gets = [p for p in self._actor_gets if not p.done] + [pending]
            self.schedule()

    def _arrived(self, pending: PendingGet) -> None:
        pending.remaining -= 1
        if pending.remaining <= 0:
            self._reply(pending)

    def drop(self, task_id: bytes) -> None:
        """The task ended while in get() (cancelled, crashed): forget its get."""
        p = self._blocked.pop(task_id, None)
        if p is not None:
            p.done = True
            if p.timer is not None:
                p.timer.cancel()

    def _reply(self, p: PendingGet, timed_out: bool = False, error: BaseException | None = None) -> None:
        if p.done:
            return
        p.done = True
        if p.timer is not None:
            p.timer.cancel()
        if p.holder is not None and self._blocked.get(p.holder) is p:
            del self._blocked[p.holder]
            self.scheduler.unblock(p.holder)
        entries = self.objects.entries
        if error is None and timed_out and p.payloads:
            missing = sum(1 for o in p.ids if entries[o].kind is None)
            error = exceptions.GetTimeoutError(
                f"get() timed out after {p.timeout} s: {missing} of {len(p.ids)} objects not ready"
            )
        if error is not None:
            p.worker.send(wire.Reply(p.rid, False, serialization.dumps(error)))
        elif p.payloads:
            p.worker.send(wire.Reply(p.rid, True, [[entries[o].kind, entries[o].payload, entries[o].name] for o in p.ids]))
        else:
            p.worker.send(wire.Reply(p.rid, True, [o for o in p.ids if entries[o].kind is not None]))

    # -- the deadlock watch ---------------------------------------------------------------
    def check_deadlock(self) -> None:
        """Fail gets that wait on work only blocked holders' resources could run (Ray hangs).

        Holders are tasks blocked in get() (their CPU is lent back, the rest kept)
        and actors with a get() pending (an actor keeps everything for life).
        """
        blocked: dict[bytes, BlockedTask] = {}
        queued: dict[bytes, tuple] = {}
        pending_by_holder: dict[bytes, list[PendingGet]] = {}
        capacity: dict = {None: self.scheduler.total}  # per domain: the node, or a placement group
        for p in [*self._blocked.values(), *(p for p in self._actor_gets if not p.done)]:
            pending_by_holder.setdefault(p.holder, []).append(p)
        for key, gets in pending_by_holder.items():
            held = self.scheduler.held(key)
            if held is None:
                continue
            actor = gets[0].worker.actor is not None
            kept = held.resources if actor else ResourceSet.from_units(
                {k: v for k, v in held.resources.amounts if k != "CPU"}
            )  # fmt: skip
            waits = frozenset(
                o[:12] for p in gets for o in p.ids
                if self.objects.entries[o].kind is None and self.task_record(o[:12]) is not None
            )  # fmt: skip
            domain = self._domain(key)
            blocked[key] = BlockedTask(held=kept, waits_on=waits, domain=domain)
            capacity[None] = capacity[None] - kept
            if domain is not None:
                capacity[domain] = capacity.get(domain, self.group_total(domain)) - kept
            for dep in waits:
                t = self.task_record(dep)
                if t.state.phase not in (STARTING, RUNNING) and dep not in self._blocked:  # not granted
                    dep_domain = t.spec.placement[0] if t.spec.placement else None
                    if dep_domain is not None and dep_domain not in capacity:
                        capacity[dep_domain] = self.group_total(dep_domain)
                    queued[dep] = (dep_domain, t.spec.request)
        if not queued:
            return
        stuck = find_deadlock(blocked, queued, capacity)
        if not stuck:
            return
        holders = ", ".join(f"{self._holder_name(k)} (holding {blocked[k].held.describe()})" for k in stuck)
        for key in stuck:
            waits = [self.task_record(d) for d in sorted(blocked[key].waits_on) if d in queued]
            wanted = "; ".join(
                f"{t.spec.name!r} needs {t.spec.request.describe()}"
                + (f" in placement group {t.spec.placement[0]}" if t.spec.placement else "")
                for t in waits
            )  # fmt: skip
            error = exceptions.ResourceDeadlockError(
                f"{self._holder_name(key)} is blocked in get() waiting on work that can never run: "
                f"{wanted or 'its dependencies'}; the resources it needs are held by work blocked in "
                f"get(): {holders}. Ray would hang here. Reserve resources for the inner work in a "
                "placement group (in Tune: resources_per_trial=tune.PlacementGroupFactory([{...trial...}, "
                "{...inner work...}])), or request fewer resources for the outer task or actor."
            )
            for p in pending_by_holder[key]:
                self._reply(p, error=error)

    def _domain(self, key: bytes) -> str | None:
        """The placement group a holder's resources come from (None: the node's own)."""
        task = self.task_record(key)
        placement = task.spec.placement if task is not None else self.actor_placement(key)
        return placement[0] if placement else None

    def _holder_name(self, key: bytes) -> str:
        task = self.task_record(key)
        if task is not None:
            return f"task {task.spec.name!r}"
        return self.describe_actor(key) or key.hex()
