"""Samplers, random states and bound checks behind ``sample``'s domains.

Samplers only say how to draw (the domain draws); ``as_rng`` maps every
accepted ``random_state`` onto a ``random.Random``-like object; the checks
raise the ValueErrors and TypeErrors the constructors document.
"""

from __future__ import annotations

import math
import random
from decimal import Decimal
from numbers import Real
from typing import Any

__all__ = [
    "BaseSampler",
    "Grid",
    "LogUniform",
    "Normal",
    "Quantized",
    "Sampler",
    "Uniform",
    "as_rng",
]


def as_rng(random_state: Any = None) -> Any:
    """A ``random.Random``-like object for ``random_state``.

    An int seeds a new ``random.Random``; a ``random.Random`` is used as is;
    a numpy Generator or RandomState is asked for one seed. None means the
    program's global RNG, as in Ray: numpy's (``np.random.seed`` reproduces)
    gives the seed of a new ``random.Random``; without numpy, the ``random``
    module itself (``random.seed`` reproduces).
    """
    if random_state is None:
        try:
            import numpy
        except ImportError:
            return random
        return random.Random(int(numpy.random.randint(0, 2**31 - 1)))
    if random_state is random:
        return random
    if isinstance(random_state, random.Random):
        return random_state
    if isinstance(random_state, bool) or not isinstance(random_state, (int, Real)):
        if hasattr(random_state, "integers"):  # numpy.random.Generator
            return random.Random(int(random_state.integers(0, 2**63 - 1)))
        if hasattr(random_state, "randint"):  # numpy.random.RandomState
            return random.Random(int(random_state.randint(0, 2**31 - 1)))
        raise TypeError(
            f"random_state must be an int seed, a random.Random, a numpy Generator or None, "
            f"got {random_state!r}"
        )
    return random.Random(int(random_state))


class Sampler:
    """How a domain draws values; the domain does the drawing."""

    def __repr__(self) -> str:
        return type(self).__name__


class BaseSampler(Sampler):
    """Calls a ``Function`` domain's function."""


class Uniform(Sampler):
    """Every value in the domain equally likely."""


class LogUniform(Sampler):
    """Uniform in log space; ``base`` is kept for Ray compatibility (it does not change the law)."""

    def __init__(self, base: float = 10) -> None:
        self.base = base

    def __repr__(self) -> str:
        return f"LogUniform(base={self.base!r})"


class Normal(Sampler):
    """Gaussian with ``mean`` and standard deviation ``sd`` (> 0)."""

    def __init__(self, mean: float = 0.0, sd: float = 1.0) -> None:
        check_number("mean", mean)
        check_number("sd", sd)
        if not sd > 0:
            raise ValueError(f"randn/normal needs sd > 0, got sd={sd!r}")
        self.mean = mean
        self.sd = sd

    def __repr__(self) -> str:
        return f"Normal(mean={self.mean!r}, sd={self.sd!r})"


class Grid(Sampler):
    """Marks a Categorical as grid_search values: expanded, never sampled."""


class Quantized(Sampler):
    """Rounds what ``sampler`` draws to a multiple of ``q``."""

    def __init__(self, sampler: Sampler, q: float) -> None:
        self.sampler = sampler
        self.q = q

    def get_sampler(self) -> Sampler:
        return self.sampler

    def __repr__(self) -> str:
        return f"Quantized({self.sampler!r}, q={self.q!r})"


# --- checks used by the domains ------------------------------------------------


def check_number(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, Real) or math.isnan(value):
        raise TypeError(f"{name} must be a number, got {value!r}")
    return value


def check_int(name: str, value: Any) -> int:
    check_number(name, value)
    if not float(value).is_integer():
        raise TypeError(f"{name} must be an int, got {value!r}; use uniform/loguniform for floats")
    return int(value)


def check_bounds(what: str, lower: float, upper: float, positive: bool = False) -> None:
    if not (math.isfinite(lower) and math.isfinite(upper)):
        raise ValueError(f"{what} needs finite bounds, got lower={lower!r}, upper={upper!r}")
    if positive and not lower > 0:
        raise ValueError(
            f"{what} needs lower > 0 (it samples in log space), got lower={lower!r}; "
            "pass the untransformed value, or use uniform for ranges that include 0"
        )
    if not lower < upper:
        raise ValueError(f"{what} needs lower < upper, got lower={lower!r}, upper={upper!r}")


def check_q(q: Any) -> None:
    check_number("q", q)
    if not q > 0:
        raise ValueError(f"quantization q must be > 0, got q={q!r}")


def snap(ratio: float) -> float:
    """``ratio`` rounded when float noise put it a hair off a whole number."""
    nearest = round(ratio)
    return float(nearest) if math.isclose(ratio, nearest, rel_tol=1e-9, abs_tol=1e-12) else ratio


def multiple(k: int, q: float) -> float:
    """``k * q`` without float noise in q's decimals (0.1 * 7 -> 0.7, not 0.7000000000000001)."""
    exponent = Decimal(repr(float(q))).as_tuple().exponent
    digits = max(0, -exponent) if isinstance(exponent, int) else 0
    return round(k * q, digits) if digits <= 15 else k * q
