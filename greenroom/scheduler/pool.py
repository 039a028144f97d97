"""One pool of resources: the node's, or one placement-group bundle's.

A pool keeps the aggregate amounts, the per-device GPU state and (when the node
pins work to cores) the per-core CPU state in step: an acquisition takes all or
none. `available` may go negative only through
`reclaim` (a task back from get() takes its lent CPU even if it was re-used).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from greenroom.scheduler.cpus import CpuGrant, CpuPool
from greenroom.scheduler.gpus import GpuGrant, GpuPool
from greenroom.scheduler.resources import ACCELERATOR_TYPE_PREFIX, UNIT, ResourceSet, from_units

__all__ = ["Allocation", "ResourcePool"]


@dataclass(frozen=True, slots=True)
class Allocation:
    """What a granted request holds: its amounts, its GPU grant, and its cores (when pinned)."""

    resources: ResourceSet
    gpus: GpuGrant = ()
    cpus: CpuGrant = ()

    @property
    def gpu_ids(self) -> list[int]:
        """The GPU ids, for CUDA_VISIBLE_DEVICES."""
        return [gpu_id for gpu_id, _ in self.gpus]

    @property
    def cpu_ids(self) -> list[int]:
        """The core ids, for sched_setaffinity (empty when the node does not pin)."""
        return [core for core, _ in self.cpus]


def option_name(resource: str) -> str:
    """The user option that sets `resource` (for "lower num_gpus" advice)."""
    return {"CPU": "num_cpus", "GPU": "num_gpus", "memory": "memory"}.get(
        resource, f"resources[{resource!r}]"
    )


class ResourcePool:
    """Amounts and GPU devices that requests are granted from."""

    __slots__ = ("_available", "_cpus", "_gpus", "_label", "_total")

    def __init__(
        self,
        total: ResourceSet,
        gpu_capacities: Mapping[int, int] | None = None,
        *,
        label: str = "this node",
        cpu_capacities: Mapping[int, int] | None = None,
    ) -> None:
        """Args:
            total: everything the pool offers.
            gpu_capacities: gpu id -> units; default ids 0..n-1, each whole.
            label: how messages name the pool ("this node", "bundle 0 of ...").
            cpu_capacities: core id -> units, to hand out cores (``cpus.core_capacities``);
                None: CPUs are only counted.

        Raises:
            ValueError: the GPU (or CPU) amount in `total` differs from the capacities' sum.
        """
        gpu_units = total.get("GPU")
        if gpu_capacities is None:
            gpu_capacities = {i: UNIT for i in range(gpu_units // UNIT)}
        if sum(gpu_capacities.values()) != gpu_units:
            raise ValueError(
                f"{label}: total GPU={from_units(gpu_units)!r} does not match the GPU "
                f"devices {dict(gpu_capacities)!r} (units, {UNIT} per GPU), which sum "
                f"to {from_units(sum(gpu_capacities.values()))!r}; pass gpu_capacities "
                f"that add up to the total"
            )
        self._total = total
        self._available = total.to_units_dict()
        self._gpus = GpuPool(gpu_capacities)
        if cpu_capacities is not None and sum(cpu_capacities.values()) != total.get("CPU"):
            raise ValueError(
                f"{label}: total CPU={from_units(total.get('CPU'))!r} does not match the cores "
                f"{dict(cpu_capacities)!r} (units), which sum to {from_units(sum(cpu_capacities.values()))!r}"
            )
        self._cpus = CpuPool(cpu_capacities) if cpu_capacities is not None else None
        self._label = label

    @property
    def total(self) -> ResourceSet:
        """Everything the pool offers."""
        return self._total

    @property
    def available(self) -> ResourceSet:
        """What is free now (lent amounts included; may be negative)."""
        return ResourceSet.from_units(self._available)

    @property
    def label(self) -> str:
        """How messages name this pool."""
        return self._label

    def gpu_capacities(self) -> dict[int, int]:
        """gpu id -> units offered."""
        return self._gpus.capacities()

    def gpu_free_units(self) -> dict[int, int]:
        """gpu id -> units free now."""
        return self._gpus.free_units()

    def cpu_capacities(self) -> dict[int, int] | None:
        """core id -> units offered; None when CPUs are only counted."""
        return self._cpus.capacities() if self._cpus is not None else None

    def infeasible_reason(self, request: ResourceSet) -> str | None:
        """Why `request` can never be granted here, even with everything free; else None."""
        label = self._label
        for name, asked in request.amounts:
            if asked <= 0:
                continue
            have = self._total.get(name)
            if have == 0 and name.startswith(ACCELERATOR_TYPE_PREFIX):
                models = [n[len(ACCELERATOR_TYPE_PREFIX):] for n, _ in self._total.amounts
                          if n.startswith(ACCELERATOR_TYPE_PREFIX)]  # fmt: skip
                return (
                    f"request {request.describe()} can never be scheduled: it asks for "
                    f"accelerator_type={name[len(ACCELERATOR_TYPE_PREFIX):]!r} but {label}'s GPUs are "
                    f"{', '.join(map(repr, models)) if models else 'of no model NVML names (or there are none)'}"
                    f"; remove accelerator_type, or start the node with resources={{{name!r}: 1}}"
                )
            if have == 0:
                return (
                    f"request {request.describe()} can never be scheduled: it asks for "
                    f"{name}={from_units(asked)!r} but {label} has no {name!r} "
                    f"(it has {self._total.describe()}); remove {option_name(name)} from "
                    f"the request or give {label} some {name!r}"
                )
            if asked > have:
                return (
                    f"request {request.describe()} can never be scheduled: it asks for "
                    f"{name}={from_units(asked)!r} but {label} has {name}="
                    f"{from_units(have)!r} in total (it has {self._total.describe()}); "
                    f"lower {option_name(name)} to at most {from_units(have)!r}"
                )
        gpu = request.get("GPU")
        if gpu > 0 and not self._gpus.ever_fits(gpu):
            return self._gpu_reason(request, gpu)
        cpu = request.get("CPU")
        if self._cpus is not None and not self._cpus.ever_fits(cpu):
            return (
                f"request {request.describe()} can never be scheduled: with cores pinned "
                f"(init(cpu_affinity=True)), its {from_units(cpu)!r} CPUs need {cpu // UNIT} whole "
                f"free core(s) plus one with {from_units(cpu % UNIT)!r} left, but {label}'s cores are "
                f"{ {i: from_units(c) for i, c in self._cpus.capacities().items()}!r}; lower num_cpus"
            )
        return None

    def _gpu_reason(self, request: ResourceSet, gpu: int) -> str:
        head = f"request {request.describe()} can never be scheduled: "
        caps = self._gpus.capacities()
        if gpu > UNIT and gpu % UNIT:
            return (
                head + f"num_gpus={from_units(gpu)!r} is above 1 GPU but not a whole "
                f"number; ask for a whole number of GPUs, or less than 1 to share a device"
            )
        if gpu >= UNIT:
            whole = [i for i, c in caps.items() if c == UNIT]
            return (
                head + f"it asks for {gpu // UNIT} whole GPU(s) but {self._label} has "
                f"{len(whole)} whole device(s) {whole!r} (shares per id: "
                f"{ {i: from_units(c) for i, c in caps.items()}!r}); lower num_gpus"
            )
        return (
            head + f"a fractional num_gpus={from_units(gpu)!r} must fit on one device, but "
            f"the largest GPU share in {self._label} is "
            f"{from_units(max(caps.values()))!r} (shares per id: "
            f"{ {i: from_units(c) for i, c in caps.items()}!r}); lower num_gpus"
        )

    def try_acquire(self, request: ResourceSet) -> Allocation | None:
        """Take `request` (amounts and GPU ids together), or None if it must wait."""
        avail = self._available
        for name, units in request.amounts:
            if units > avail.get(name, 0):
                return None
        grant = self._gpus.acquire(request.get("GPU"))
        if grant is None:
            return None
        cores: CpuGrant = ()
        if self._cpus is not None:
            taken = self._cpus.acquire(request.get("CPU"))
            if taken is None:
                self._gpus.release(grant)
                return None
            cores = taken
        for name, units in request.amounts:
            avail[name] = avail.get(name, 0) - units
        return Allocation(request, grant, cores)

    def release(self, alloc: Allocation) -> None:
        """Give back an allocation from `try_acquire`.

        Raises:
            ValueError: it would make more available than the pool's total
                (a double release); nothing is changed then.
        """
        for name, units in alloc.resources.amounts:
            if self._available.get(name, 0) + units > self._total.get(name):
                raise ValueError(
                    f"release of {alloc.resources.describe()} to {self._label} would make "
                    f"{name}={from_units(self._available.get(name, 0) + units)!r} available, "
                    f"above its total {from_units(self._total.get(name))!r}; was it "
                    f"released twice, or released while still lent?"
                )
        self._gpus.release(alloc.gpus)
        if self._cpus is not None:
            self._cpus.release(alloc.cpus)
        self._add(alloc.resources, +1)

    def lend(self, resources: ResourceSet, cpus: CpuGrant = ()) -> None:
        """Make held `resources` (and the cores `cpus`) available to others (a task blocked in get()).

        Raises:
            ValueError: `resources` includes GPU; a device stays with its holder.
        """
        if resources.get("GPU"):
            raise ValueError(
                f"cannot lend {resources.describe()}: GPUs stay with the task holding "
                f"them (its process keeps its CUDA context); lend CPU only"
            )
        if self._cpus is not None:
            self._cpus.release(cpus)
        self._add(resources, +1)

    def reclaim(self, resources: ResourceSet, cpus: CpuGrant = ()) -> None:
        """Take lent `resources` (and cores) back; never fails, may leave `available` negative."""
        if resources.get("GPU"):
            raise ValueError(f"cannot reclaim {resources.describe()}: GPUs are never lent")
        if self._cpus is not None:
            self._cpus.take(cpus)
        self._add(resources, -1)

    def _add(self, resources: ResourceSet, sign: int) -> None:
        avail = self._available
        for name, units in resources.amounts:
            avail[name] = avail.get(name, 0) + sign * units

    def __repr__(self) -> str:
        return (
            f"ResourcePool({self._label}, total={self._total.describe()}, "
            f"available={self.available.describe()}, gpus={self._gpus.free_units()!r})"
        )
