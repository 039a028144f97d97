"""Which CPU cores a request gets, when the node pins work to cores (``init(cpu_affinity=True)``).

Like GPU ids: a pool maps each core id to the units it offers (`UNIT` for a
whole core, less for the fractional part of a node or bundle). A request's
whole CPUs take that many completely free cores, lowest id first, so whole-CPU
work never shares a core it was given; its fractional part (all of a request
below 1 CPU) packs onto one core, the fullest that still fits, so fractional
work shares cores with other fractional work and leaves whole cores whole.

Unlike GPUs, CPUs are lent while a task blocks in ``get()`` (``release`` then
``take``): the lender's cores go to others meanwhile, and ``take`` gets them
back even if that oversubscribes a core (free units below zero), as the
aggregate CPU count does.
"""

from __future__ import annotations

from collections.abc import Mapping

from greenroom.scheduler.resources import UNIT, from_units

__all__ = ["CpuGrant", "CpuPool", "core_capacities"]

# ((core id, units taken), ...), ids ascending.
CpuGrant = tuple[tuple[int, int], ...]


def core_capacities(units: int) -> dict[int, int]:
    """The cores an amount of CPU offers: whole cores 0..n-1, then its fractional rest as core n."""
    whole, rest = divmod(units, UNIT)
    capacities = {i: UNIT for i in range(whole)}
    if rest:
        capacities[whole] = rest
    return capacities


class CpuPool:
    """Free units per core id; hands out grants and takes them back."""

    __slots__ = ("_capacity", "_free")

    def __init__(self, capacities: Mapping[int, int]) -> None:
        """Args: capacities: core id -> units it offers (0 < units <= UNIT)."""
        for core, units in capacities.items():
            if isinstance(core, bool) or not isinstance(core, int) or core < 0:
                raise ValueError(f"CPU core id {core!r}: expected an int >= 0")
            if isinstance(units, bool) or not isinstance(units, int) or not 0 < units <= UNIT:
                raise ValueError(f"CPU core {core!r} capacity {units!r} units: expected 1..{UNIT}")
        self._capacity: dict[int, int] = dict(sorted(capacities.items()))
        self._free: dict[int, int] = dict(self._capacity)

    def acquire(self, units: int) -> CpuGrant | None:
        """Take ``units`` of CPU as cores; the grant, or None if it cannot be had now.

        Raises:
            ValueError: ``units`` is negative.
        """
        if units < 0:
            raise ValueError(f"CPU request of {units!r} units: must not be negative")
        if units == 0:
            return ()
        whole, rest = divmod(units, UNIT)
        free_cores = [i for i, free in self._free.items() if free == UNIT == self._capacity[i]]
        if len(free_cores) < whole:
            return None
        grant = [(i, UNIT) for i in free_cores[:whole]]
        if rest:
            taken = set(free_cores[:whole])
            fitting = [(free, i) for i, free in self._free.items() if free >= rest and i not in taken]
            if not fitting:
                return None
            grant.append((min(fitting)[1], rest))  # the fullest core that fits
        for core, part in grant:
            self._free[core] -= part
        return tuple(sorted(grant))

    def release(self, grant: CpuGrant) -> None:
        """Give back a grant (or lend it while its holder blocks).

        Raises:
            ValueError: an id is unknown or would exceed its capacity (a double release).
        """
        for core, units in grant:
            if core not in self._capacity:
                raise ValueError(
                    f"release of CPU core {core!r}: not in this pool (ids {list(self._capacity)!r})"
                )
            if self._free[core] + units > self._capacity[core]:
                raise ValueError(
                    f"release of {from_units(units)!r} CPU on core {core!r} would exceed its capacity "
                    f"{from_units(self._capacity[core])!r}; was the grant {grant!r} released twice?"
                )
        for core, units in grant:
            self._free[core] += units

    def take(self, grant: CpuGrant) -> None:
        """Take a lent grant back; never fails, may leave a core oversubscribed (free < 0)."""
        for core, units in grant:
            self._free[core] -= units

    def ever_fits(self, units: int) -> bool:
        """True if ``units`` could be granted were every core free."""
        return units >= 0 and CpuPool(self._capacity).acquire(units) is not None

    def capacities(self) -> dict[int, int]:
        """core id -> units offered, ids ascending."""
        return dict(self._capacity)

    def free_units(self) -> dict[int, int]:
        """core id -> free units (negative: oversubscribed by a task back from get())."""
        return dict(self._free)

    def __repr__(self) -> str:
        return f"CpuPool(free={self._free!r}, capacity={self._capacity!r})"
