"""Trials that wait on placement groups of their own, and when that can never end: pure logic.

A trial's trainable may reserve more resources while it runs: a
``greenroom.train`` trainer's ``fit()`` inside a function trainable creates a
placement group for its workers and waits for it (Ray Train V2's pattern).
The trial keeps what it holds while it waits. If every running trial waits so,
and no waiting group fits in what the running trials leave of the node, none
ever will: the trials only give their resources back when their groups are
placed. Ray hangs there (its docs warn of it); the trial runner asks
``stalled`` each time it has waited a while with no result, and fails the
experiment with its message.

Such groups carry their trial's id in their name (``trial_group_name``), so
the runner finds them in ``placement_group_table()``, on Ray as on greenroom.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping

from greenroom.tune.execution.capacity import UNIT, to_units

PREFIX = "tune_trial:"
PENDING = "PENDING"


def trial_group_name(trial_id: str, what: str) -> str:
    """A unique placement group name that ties the group to trial ``trial_id``."""
    return f"{PREFIX}{trial_id}:{what}:{uuid.uuid4().hex[:8]}"


def trial_of_group(name: str) -> str | None:
    """The trial id in a ``trial_group_name``, else None."""
    if not name.startswith(PREFIX):
        return None
    return name[len(PREFIX) :].split(":", 1)[0] or None


def _fmt(units: Mapping[str, int]) -> str:
    return "{" + ", ".join(f"{k!r}: {n / UNIT:g}" for k, n in sorted(units.items())) + "}"


def _fits(need: Mapping[str, int], have: Mapping[str, int]) -> bool:
    return all(n <= have.get(k, 0) for k, n in need.items())


def stalled(
    running: Mapping[str, Mapping[str, float]],
    groups: list[tuple[str, str, Mapping[str, float]]],
    total: Mapping[str, float],
) -> str | None:
    """Whether the running trials wait on their own groups forever; the message saying so, or None.

    Args:
        running: each RUNNING trial's id and what it holds (its resources, all bundles).
        groups: the trials' own placement groups: (trial id, state, the sum of its bundles).
        total: the node's resources.
    Returns:
        None unless every running trial has a PENDING group and no CREATED one, and no
        PENDING group fits in ``total`` less what the running trials hold.
    """
    if not running:
        return None
    pending: dict[str, list[dict[str, int]]] = {}
    for trial_id, state, need in groups:
        if trial_id not in running:
            continue
        if state != PENDING:
            return None  # a trial's group is placed: its work runs and will end
        pending.setdefault(trial_id, []).append(to_units(need))
    if set(pending) != set(running):
        return None
    held: dict[str, int] = {}
    for resources in running.values():
        for k, n in to_units(resources).items():
            held[k] = held.get(k, 0) + n
    have = to_units(total)
    left = {k: n - held.get(k, 0) for k, n in have.items()}
    needs = [need for trial_needs in pending.values() for need in trial_needs]
    if any(_fits(need, left) for need in needs):
        return None
    shown = set(held).union(*needs)  # the resources that matter here, not the node's memory and the like
    have = {k: n for k, n in have.items() if k in shown}
    left = {k: n for k, n in left.items() if k in shown}
    smallest = min(needs, key=lambda need: sorted(need.items()))
    per_trial = to_units(next(iter(running.values())))
    most = 0
    for k in range(1, len(running)):
        if _fits(smallest, {r: n - k * per_trial.get(r, 0) for r, n in have.items()}):
            most = k
    advice = (
        f"Run at most {most} at once (TuneConfig(max_concurrent_trials={most}), or max_concurrent_trials= "
        "in tune.run), or give each trial fewer resources (tune.with_resources)"
        if most
        else "Not even one trial's group fits beside the trial itself: ask for fewer resources in the "
        "trial or in its group"
    )
    return (
        f"{len(running)} trials are running, and each waits for a placement group it created (for "
        f"example a trainer's workers, {_fmt(smallest)}), but the trials hold {_fmt(held)} of this node's "
        f"{_fmt(have)} until their groups are placed, which leaves {_fmt(left)}: no group can ever be "
        f"placed, and no trial can ever finish. Ray would hang here. {advice}."
    )
