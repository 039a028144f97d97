"""Detect tasks blocked in get() that can never be woken.

A task blocked in get() lends its CPU back but keeps its GPUs, memory and custom
resources. If it waits (directly or through other blocked tasks) on queued tasks
that could only run on what blocked tasks hold, nothing will ever move: report
it instead of hanging.

The check is a fixpoint over optimistic progress:
  * a queued task progresses if its request fits `capacity` (it can run alone,
    finish, and give everything back, so tasks are considered one at a time);
  * a blocked task progresses once everything it waits on progresses (a wait on
    anything that is neither queued nor blocked is assumed to finish), and then
    its held resources join `capacity`.
Capacity comes in domains: the node's own resources, and each placement
group's reservation (work placed in a group can only use that group's bundles,
and what a blocked holder in the group keeps is missing there). A queued task
fits in its own domain only; a blocked task's held resources return to its own.
Simplification: capacity is compared as amounts; GPU device boundaries
(whether a 0.5 share lies on one device) and bundle boundaries inside a group
are ignored, which can only make the check report fewer deadlocks, never a
false one.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from dataclasses import dataclass

from greenroom.scheduler.resources import ResourceSet

__all__ = ["BlockedTask", "find_deadlock"]


@dataclass(frozen=True, slots=True)
class BlockedTask:
    """A task blocked in get().

    Attributes:
        held: what it keeps while blocked (GPU, memory, custom; not its lent CPU).
        waits_on: keys of the queued or blocked tasks producing what it waits for.
    """

    held: ResourceSet
    waits_on: frozenset[Hashable] = frozenset()
    domain: Hashable = None  # where ``held`` came from: None for the node, else a placement group id


def find_deadlock(
    blocked: Mapping[Hashable, BlockedTask],
    queued: Mapping[Hashable, ResourceSet | tuple[Hashable, ResourceSet]],
    capacity: ResourceSet | Mapping[Hashable, ResourceSet],
) -> list[Hashable]:
    """Keys of blocked tasks that can never progress; [] if there is no deadlock.

    Args:
        blocked: blocked tasks by key.
        queued: requests of queued tasks by key: a request (in the node's domain), or
            (domain, request) for one placed in a placement group.
        capacity: per domain, its total minus what blocked tasks there hold (their CPU is
            lent back, so it counts as capacity); a single ResourceSet is the node's.

    Returns:
        The stuck keys, in `blocked`'s iteration order.
    """
    # Queued tasks of one shape (domain and request) fit or not together: test each once.
    waiting_shapes: dict[tuple, list[Hashable]] = {}
    for key, request in queued.items():
        shape = request if isinstance(request, tuple) else (None, request)
        waiting_shapes.setdefault(shape, []).append(key)
    progressed: set[Hashable] = set()
    stuck = dict.fromkeys(blocked)  # ordered set of blocked keys not yet progressed
    free = dict(capacity) if isinstance(capacity, Mapping) else {None: capacity}
    empty = ResourceSet.from_units({})

    def done(key: Hashable) -> bool:
        return key in progressed or (key not in queued and key not in blocked)

    changed = True
    while changed:
        changed = False
        for shape in [s for s in waiting_shapes if s[1].fits_in(free.get(s[0], empty))]:
            progressed.update(waiting_shapes.pop(shape))
            changed = True
        for key in [k for k in stuck if all(done(w) for w in blocked[k].waits_on)]:
            del stuck[key]
            progressed.add(key)
            domain = blocked[key].domain
            free[domain] = free.get(domain, empty) + blocked[key].held
            changed = True
    return list(stuck)
