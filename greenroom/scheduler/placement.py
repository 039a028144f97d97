"""Placement-group bundles: validation, feasibility, atomic reservation.

greenroom has one machine, so every strategy packs all bundles onto it, except
STRICT_SPREAD with more than one bundle, which needs as many machines as
bundles and can never be placed. A reserved bundle becomes a pool of its own
(`bundle_pool`) whose GPUs are exactly the ids and shares it was granted.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from greenroom.scheduler.cpus import core_capacities
from greenroom.scheduler.pool import Allocation, ResourcePool
from greenroom.scheduler.resources import UNIT, ResourceSet, from_units, to_units

__all__ = [
    "STRATEGIES",
    "bundle_pool",
    "placement_infeasible_reason",
    "reserve_bundles",
    "unreserved_bundle_pool",
    "validate_bundles",
    "validate_strategy",
]

STRATEGIES = ("PACK", "SPREAD", "STRICT_PACK", "STRICT_SPREAD")

# Task-option spellings users put in bundles by mistake -> Ray's bundle key.
_MISSPELT = {"num_cpus": "CPU", "num_gpus": "GPU"}


def validate_strategy(strategy: str) -> str:
    """Return `strategy` if it is one of `STRATEGIES`; raise ValueError otherwise."""
    if strategy not in STRATEGIES:
        raise ValueError(f"placement strategy {strategy!r}: expected one of {STRATEGIES!r}")
    return strategy


def validate_bundles(bundles: Sequence[Mapping[str, float]], strategy: str) -> list[ResourceSet]:
    """Check Ray-style bundles ([{"CPU": 1, "GPU": 0.5}, ...]) and convert them.

    Raises:
        TypeError: `bundles` is not a list of dicts, or an amount is not a number.
        ValueError: no bundles, an empty or all-zero bundle, a negative amount,
            a fractional GPU amount above 1, or an unknown strategy.
    """
    validate_strategy(strategy)
    if not isinstance(bundles, (list, tuple)):
        raise TypeError(f"bundles={bundles!r}: expected a list of dicts like [{{'CPU': 1}}]")
    if not bundles:
        raise ValueError(
            "bundles=[]: a placement group needs at least one bundle, e.g. [{'CPU': 1}]"
        )
    out = []
    for index, bundle in enumerate(bundles):
        if not isinstance(bundle, Mapping):
            raise TypeError(
                f"bundles[{index}]={bundle!r}: expected a dict of resource name -> amount"
            )
        units: dict[str, int] = {}
        for name, value in bundle.items():
            if not isinstance(name, str) or not name:
                raise TypeError(f"bundles[{index}]: resource name {name!r} must be a non-empty str")
            if name in _MISSPELT:
                raise ValueError(
                    f"bundles[{index}]={bundle!r}: bundle keys are resource names; "
                    f"use {_MISSPELT[name]!r} instead of {name!r}"
                )
            units[name] = to_units(value, name=f"bundles[{index}][{name!r}]")
        gpu = units.get("GPU", 0)
        if gpu > UNIT and gpu % UNIT:
            raise ValueError(
                f"bundles[{index}]={bundle!r}: GPU={from_units(gpu)!r} above 1 must be a "
                f"whole number of GPUs; fractional amounts (<1) share one device"
            )
        resources = ResourceSet.from_units(units)
        if resources.is_empty():
            raise ValueError(
                f"bundles[{index}]={bundle!r}: a bundle must reserve something, e.g. {{'CPU': 1}}"
            )
        out.append(resources)
    return out


def _fresh_copy(pool: ResourcePool) -> ResourcePool:
    """A pool like `pool` with everything free."""
    return ResourcePool(
        pool.total, pool.gpu_capacities(), label=pool.label, cpu_capacities=pool.cpu_capacities()
    )


def placement_infeasible_reason(
    pool: ResourcePool, bundles: Sequence[ResourceSet], strategy: str
) -> str | None:
    """Why these bundles can never all be reserved in `pool`; None if they can."""
    validate_strategy(strategy)
    if strategy == "STRICT_SPREAD" and len(bundles) > 1:
        return (
            f"placement group with {len(bundles)} bundles and strategy 'STRICT_SPREAD' "
            f"can never be placed: STRICT_SPREAD puts each bundle on a different node and "
            f"greenroom runs on one node; use 'PACK' or 'SPREAD' (or one bundle)"
        )
    for index, bundle in enumerate(bundles):
        reason = pool.infeasible_reason(bundle)
        if reason is not None:
            return f"placement group bundle {index}: {reason}"
    # Each bundle fits alone; the sum must fit too, with GPU shares on real devices.
    # Trying the same reservation on an all-free copy is exactly the eventual test.
    if reserve_bundles(_fresh_copy(pool), bundles) is None:
        summed = sum(bundles, ResourceSet())
        return (
            f"placement group bundles {[b.describe() for b in bundles]!r} can never be "
            f"placed together: together they ask for {summed.describe()} (GPU shares "
            f"each on one device, whole GPUs on distinct devices) but {pool.label} has "
            f"{pool.total.describe()} with GPU devices "
            f"{ {i: from_units(c) for i, c in pool.gpu_capacities().items()}!r}; "
            f"use fewer or smaller bundles"
        )
    return None


def reserve_bundles(pool: ResourcePool, bundles: Sequence[ResourceSet]) -> list[Allocation] | None:
    """Reserve every bundle in `pool`, or none (rolled back); allocations in bundle order."""
    # Place the largest GPU amounts first (first-fit decreasing): fractional
    # bundles packed before whole ones could otherwise break up whole devices.
    order = sorted(range(len(bundles)), key=lambda i: -bundles[i].get("GPU"))
    taken: dict[int, Allocation] = {}
    for index in order:
        alloc = pool.try_acquire(bundles[index])
        if alloc is None:
            for done in taken.values():
                pool.release(done)
            return None
        taken[index] = alloc
    return [taken[i] for i in range(len(bundles))]


def bundle_pool(
    alloc: Allocation, *, label: str = "this placement group bundle", cpu_ids: bool = False
) -> ResourcePool:
    """A pool offering exactly a reserved bundle: its amounts, its GPU ids and shares, and with
    `cpu_ids` (the node pins work to cores) its cores and shares."""
    cpus = dict(alloc.cpus) if cpu_ids else None
    return ResourcePool(alloc.resources, dict(alloc.gpus), label=label, cpu_capacities=cpus)


def unreserved_bundle_pool(
    bundle: ResourceSet, *, label: str = "this placement group bundle", cpu_ids: bool = False
) -> ResourcePool:
    """The pool `bundle` will become once reserved, for feasibility checks before then.

    A fractional GPU amount is always granted on one device and a whole one as
    whole devices, so the shape is known before the ids are; so with CPU cores.
    """
    gpu = bundle.get("GPU")
    capacities = {0: gpu} if 0 < gpu < UNIT else {i: UNIT for i in range(gpu // UNIT)}
    cpus = core_capacities(bundle.get("CPU")) if cpu_ids else None
    return ResourcePool(bundle, capacities, label=label, cpu_capacities=cpus)
