"""Resource amounts in fixed point, and the immutable `ResourceSet`.

Every amount is an integer number of units, `UNIT` units per 1.0 of a resource,
so sums never drift: 0.1 + 0.2 CPU is exactly 0.3 and 0.5 + 0.5 GPU exactly 1.
Ray keeps the same 4-decimal precision. `memory` is counted in bytes.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping
from dataclasses import dataclass

__all__ = ["ACCELERATOR_TYPE_PREFIX", "UNIT", "ResourceSet", "from_units", "parse_resources", "to_units"]

UNIT = 10_000

# Names a caller must set through their own option, never through `resources=`.
_RESERVED = {"CPU": "num_cpus", "GPU": "num_gpus", "memory": "memory"}


def to_units(value: float, *, name: str) -> int:
    """Convert a user-given amount to units, rounding to 4 decimals.

    Args:
        value: a non-negative finite int or float.
        name: the option being converted, named in error messages.

    Raises:
        TypeError: `value` is not a number (bools and strings are not numbers).
        ValueError: `value` is negative, nan or infinite, or positive but below
            the smallest amount 0.0001 (it would silently become zero).
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(
            f"{name}={value!r}: expected a non-negative number, got "
            f"{type(value).__name__}; pass an int or float such as 1 or 0.5"
        )
    if isinstance(value, numbers.Integral):
        units = int(value) * UNIT
    else:
        as_float = float(value)
        if not math.isfinite(as_float):
            raise ValueError(f"{name}={value!r}: expected a finite number such as 1 or 0.5")
        units = round(as_float * UNIT)
        if units == 0 and as_float > 0:
            raise ValueError(
                f"{name}={value!r}: below the smallest schedulable amount "
                f"{1 / UNIT!r}; use 0 or at least {1 / UNIT!r}"
            )
    if units < 0:
        raise ValueError(f"{name}={value!r}: must not be negative; use 0 or more")
    return units


def from_units(units: int) -> float:
    """Convert units back to the user's scale (1.0 == one CPU, GPU, byte...)."""
    return units / UNIT


@dataclass(frozen=True, slots=True)
class ResourceSet:
    """An immutable, hashable bag of resource amounts in units.

    `amounts` is sorted by name and holds no zero entries, so two equal sets
    compare and hash equal: the runtime uses a request as a dict key. Amounts
    may be negative only for availability (a pool oversubscribed by `reclaim`).
    """

    amounts: tuple[tuple[str, int], ...] = ()

    def __post_init__(self) -> None:
        # Normalise whatever was passed so the invariants hold for direct calls too.
        merged: dict[str, int] = {}
        for name, units in self.amounts:
            if not isinstance(name, str) or not name:
                raise TypeError(f"resource name {name!r}: expected a non-empty str")
            if isinstance(units, bool) or not isinstance(units, int):
                raise TypeError(f"resource {name!r}={units!r}: expected int units")
            if name in merged:
                raise ValueError(f"resource {name!r} appears twice in {self.amounts!r}")
            merged[name] = units
        normal = tuple(sorted((n, u) for n, u in merged.items() if u != 0))
        if normal != self.amounts:
            object.__setattr__(self, "amounts", normal)

    @classmethod
    def from_dict(cls, mapping: Mapping[str, float]) -> ResourceSet:
        """Build from user amounts (1.0 == one unit of a resource), validated."""
        if not isinstance(mapping, Mapping):
            raise TypeError(f"resources={mapping!r}: expected a dict of name -> amount")
        return cls(tuple((name, to_units(v, name=str(name))) for name, v in mapping.items()))

    @classmethod
    def from_units(cls, mapping: Mapping[str, int]) -> ResourceSet:
        """Build from amounts already in units; zeros dropped, negatives kept."""
        return cls(tuple(mapping.items()))

    def get(self, name: str) -> int:
        """Units of `name`, 0 if absent."""
        for key, units in self.amounts:
            if key == name:
                return units
        return 0

    def names(self) -> list[str]:
        """The resource names present, sorted."""
        return [name for name, _ in self.amounts]

    def to_dict(self) -> dict[str, float]:
        """Amounts on the user's scale, e.g. {'CPU': 2.0}."""
        return {name: from_units(units) for name, units in self.amounts}

    def to_units_dict(self) -> dict[str, int]:
        """Amounts in units, as a new mutable dict."""
        return dict(self.amounts)

    def __add__(self, other: ResourceSet) -> ResourceSet:
        out = dict(self.amounts)
        for name, units in other.amounts:
            out[name] = out.get(name, 0) + units
        return ResourceSet.from_units(out)

    def __sub__(self, other: ResourceSet) -> ResourceSet:
        out = dict(self.amounts)
        for name, units in other.amounts:
            out[name] = out.get(name, 0) - units
        return ResourceSet.from_units(out)

    def fits_in(self, other: ResourceSet) -> bool:
        """True if every amount here is at most the same amount in `other`."""
        return all(units <= other.get(name) for name, units in self.amounts)

    def is_empty(self) -> bool:
        """True if no resource has a non-zero amount."""
        return not self.amounts

    def __bool__(self) -> bool:
        return bool(self.amounts)

    def describe(self) -> str:
        """Human form for messages, e.g. "{'CPU': 2.0, 'GPU': 1.0}"."""
        return repr(self.to_dict())

    def __repr__(self) -> str:
        return f"ResourceSet({self.describe()})"


ACCELERATOR_TYPE_PREFIX = "accelerator_type:"  # a node resource: 1 on a node whose GPUs are that model
ACCELERATOR_TYPE_SLIVER = 0.001  # what a request for a model takes of it (Ray's)


def parse_resources(
    *,
    num_cpus: float | None = None,
    num_gpus: float | None = None,
    memory: float | None = None,
    resources: Mapping[str, float] | None = None,
    default_cpus: float = 1.0,
    accelerator_type: str | None = None,
) -> ResourceSet:
    """Build a request from Ray-style options (`@remote(num_cpus=..., ...)`).

    Args:
        num_cpus: CPUs; `default_cpus` when None (Ray: 1 for tasks, 0 for actors).
        num_gpus: GPUs; below 1 shares one device, above 1 must be whole.
        memory: bytes.
        resources: custom resources, name -> amount.
        accelerator_type: a GPU model (``"H100"``, see util.accelerators): a sliver of the node
            resource ``accelerator_type:H100``, which a node with that model has (as in Ray).

    Raises:
        TypeError: an amount is not a number, or `resources` is not a dict of str.
        ValueError: an amount is negative or not finite, a GPU request above 1
            is fractional, or `resources` names CPU, GPU or memory.
    """
    amounts: dict[str, int] = {
        "CPU": to_units(default_cpus if num_cpus is None else num_cpus, name="num_cpus"),
    }
    if num_gpus is not None:
        gpus = to_units(num_gpus, name="num_gpus")
        if gpus > UNIT and gpus % UNIT:
            raise ValueError(
                f"num_gpus={num_gpus!r}: a request above 1 GPU must be a whole number "
                f"of GPUs; fractional requests (<1) share one device"
            )
        amounts["GPU"] = gpus
    if memory is not None:
        amounts["memory"] = to_units(memory, name="memory")
    if resources is not None:
        if not isinstance(resources, Mapping):
            raise TypeError(
                f"resources={resources!r}: expected a dict of resource name -> amount, "
                f"e.g. resources={{'accelerator': 1}}"
            )
        for name, value in resources.items():
            if not isinstance(name, str):
                raise TypeError(f"resources={resources!r}: resource name {name!r} must be a str")
            if not name:
                raise ValueError(f"resources={resources!r}: a resource name must not be empty")
            if name in _RESERVED:
                raise ValueError(
                    f"resources={resources!r}: {name!r} cannot be given in resources; "
                    f"use {_RESERVED[name]}= instead"
                )
            amounts[name] = to_units(value, name=f"resources[{name!r}]")
    if accelerator_type is not None:
        if not isinstance(accelerator_type, str) or not accelerator_type:
            raise TypeError(f"accelerator_type={accelerator_type!r}: expected a GPU model such as 'H100' "
                            "(greenroom.util.accelerators names them)")  # fmt: skip
        amounts[ACCELERATOR_TYPE_PREFIX + accelerator_type] = to_units(ACCELERATOR_TYPE_SLIVER, name="accelerator_type")
    return ResourceSet.from_units(amounts)
