"""Which GPU ids a request gets.

A pool maps each GPU id to the units it offers: `UNIT` for a whole device, less
when a placement-group bundle owns only a share of one. Whole requests take
whole, completely free devices, so a worker's CUDA_VISIBLE_DEVICES never shares a
device it thinks it owns; fractional requests pack onto exactly one device.
"""

from __future__ import annotations

from collections.abc import Mapping

from greenroom.scheduler.resources import UNIT, from_units

__all__ = ["GpuGrant", "GpuPool"]

# ((gpu_id, units_taken), ...), ids ascending.
GpuGrant = tuple[tuple[int, int], ...]


class GpuPool:
    """Free units per GPU id; hands out and takes back grants."""

    __slots__ = ("_capacity", "_free")

    def __init__(self, capacities: Mapping[int, int]) -> None:
        """Args: capacities: gpu id -> units it offers (0 < units <= UNIT)."""
        for gpu_id, units in capacities.items():
            if isinstance(gpu_id, bool) or not isinstance(gpu_id, int) or gpu_id < 0:
                raise ValueError(f"GPU id {gpu_id!r}: expected an int >= 0")
            if isinstance(units, bool) or not isinstance(units, int) or not 0 < units <= UNIT:
                raise ValueError(
                    f"GPU {gpu_id!r} capacity {units!r} units: expected 1..{UNIT} "
                    f"(a device offers at most one whole GPU)"
                )
        self._capacity: dict[int, int] = dict(sorted(capacities.items()))
        self._free: dict[int, int] = dict(self._capacity)

    def acquire(self, units: int) -> GpuGrant | None:
        """Take `units` of GPU; the grant, or None if it cannot be had now.

        Whole requests take that many whole, completely free devices, lowest id
        first. A fractional request takes from exactly one device, the one with
        the least free units that still fits (best fit keeps whole devices free).

        Raises:
            ValueError: `units` is negative, or above one GPU but not whole.
        """
        self._check_request(units)
        if units == 0:
            return ()
        if units >= UNIT:
            wanted = units // UNIT
            ids = [i for i, free in self._free.items() if free == UNIT == self._capacity[i]]
            if len(ids) < wanted:
                return None
            grant = tuple((i, UNIT) for i in ids[:wanted])
        else:
            fitting = [(free, i) for i, free in self._free.items() if free >= units]
            if not fitting:
                return None
            _, best = min(fitting)
            grant = ((best, units),)
        for gpu_id, taken in grant:
            self._free[gpu_id] -= taken
        return grant

    def release(self, grant: GpuGrant) -> None:
        """Give back a grant from `acquire` (or part of one).

        Raises:
            ValueError: an id is unknown or would exceed its capacity (a double release).
        """
        for gpu_id, units in grant:
            if gpu_id not in self._capacity:
                raise ValueError(
                    f"release of GPU {gpu_id!r}: not in this pool (ids {list(self._capacity)!r})"
                )
            if self._free[gpu_id] + units > self._capacity[gpu_id]:
                raise ValueError(
                    f"release of {from_units(units)!r} GPU on id {gpu_id!r} would exceed its "
                    f"capacity {from_units(self._capacity[gpu_id])!r}; was the grant "
                    f"{grant!r} released twice?"
                )
        for gpu_id, units in grant:
            self._free[gpu_id] += units

    def free_units(self) -> dict[int, int]:
        """gpu id -> free units, ids ascending."""
        return dict(self._free)

    def capacities(self) -> dict[int, int]:
        """gpu id -> units offered, ids ascending."""
        return dict(self._capacity)

    def ever_fits(self, units: int) -> bool:
        """True if `units` could be granted were every device free."""
        if units < 0 or (units > UNIT and units % UNIT):
            return False
        if units == 0:
            return True
        if units >= UNIT:
            return sum(1 for c in self._capacity.values() if c == UNIT) >= units // UNIT
        return any(c >= units for c in self._capacity.values())

    @staticmethod
    def _check_request(units: int) -> None:
        if units < 0:
            raise ValueError(f"GPU request of {units!r} units: must not be negative")
        if units > UNIT and units % UNIT:
            raise ValueError(
                f"GPU request of {from_units(units)!r}: above 1 GPU it must be a whole "
                f"number of GPUs; fractional requests (<1) share one device"
            )

    def __repr__(self) -> str:
        return f"GpuPool(free={self._free!r}, capacity={self._capacity!r})"
