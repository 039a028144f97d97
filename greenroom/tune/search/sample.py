"""Search-space domains and their constructors, as ``ray.tune.search.sample``.

A ``Domain`` says what values a parameter may take (``Float``, ``Integer``,
``Categorical``, ``Function``) and its sampler says how to draw one
(``Uniform``, ``LogUniform``, ``Normal``, ``Quantized``, ``Grid``). Domains are
immutable in use: ``uniform()``, ``quantized(q)`` and friends return copies.
Randomness comes from the stdlib: ``random_state`` is an int seed, a
``random.Random``, a numpy Generator/RandomState (used only to draw a seed),
or None for the global ``random`` module (``random.seed(...)`` reproduces).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from copy import copy
from inspect import signature
from numbers import Real
from typing import Any

from greenroom.tune.search._samplers import (
    BaseSampler,
    Grid,
    LogUniform,
    Normal,
    Quantized,
    Sampler,
    Uniform,
    as_rng,
    check_bounds,
    check_int,
    check_number,
    check_q,
    multiple,
    snap,
)

__all__ = [
    "BaseSampler",
    "Categorical",
    "Domain",
    "Float",
    "Function",
    "Grid",
    "Integer",
    "LogUniform",
    "Normal",
    "Quantized",
    "Sampler",
    "Uniform",
    "choice",
    "grid_search",
    "lograndint",
    "loguniform",
    "qlograndint",
    "qloguniform",
    "qrandint",
    "qrandn",
    "quniform",
    "randint",
    "randn",
    "sample_from",
    "uniform",
]

_INF = float("inf")


# --- domains ------------------------------------------------------------------


class Domain:
    """Base class of a parameter's valid values plus the sampler to draw them with."""

    sampler: Sampler | None = None
    default_sampler_cls: type[Sampler] = Uniform

    def cast(self, value: Any) -> Any:
        """Cast a drawn value to the domain's type."""
        return value

    def _sampled(self, sampler: Sampler, allow_override: bool = False) -> Any:
        """A copy of this domain that samples with ``sampler``."""
        new = copy(self)
        new.set_sampler(sampler, allow_override)
        return new

    def set_sampler(self, sampler: Sampler, allow_override: bool = False) -> None:
        """Set the sampler; a second one is an error unless ``allow_override``."""
        if self.sampler is not None and not allow_override:
            raise ValueError(
                f"{type(self).__name__} already samples with {self.sampler!r}; "
                f"a domain takes one sampler, so drop the extra {sampler!r}"
            )
        self.sampler = sampler

    def get_sampler(self) -> Sampler:
        """The sampler set, or the domain's default."""
        return self.sampler if self.sampler is not None else self.default_sampler_cls()

    def sample(self, config: Any = None, size: int | None = 1, random_state: Any = None) -> Any:
        """Draw one value (``size`` 1 or None) or a list of ``size`` values.

        Args:
            config: passed to ``Function`` domains (the partially resolved config).
            size: how many values.
            random_state: int seed, ``random.Random``, numpy generator, or None.
        """
        if self.is_grid():
            raise RuntimeError(
                "grid_search values are expanded by the variant generator, not sampled; "
                "use choice(...) to sample one of them at random"
            )
        sampler = self.get_sampler()
        rng = as_rng(random_state)
        count = 1 if size is None else size
        if count < 1:
            raise ValueError(f"size must be >= 1, got {size!r}")
        values = [self.cast(self._draw(sampler, rng, config)) for _ in range(count)]
        return values[0] if count == 1 else values

    def _draw(self, sampler: Sampler, rng: Any, config: Any) -> Any:
        raise NotImplementedError(f"{type(self).__name__} cannot be sampled with {sampler!r}")

    def is_grid(self) -> bool:
        return isinstance(self.sampler, Grid)

    def is_function(self) -> bool:
        return False

    def is_valid(self, value: Any) -> bool:
        """Whether ``value`` lies in this domain."""
        raise NotImplementedError

    @property
    def domain_str(self) -> str:
        return "(unknown)"

    def __repr__(self) -> str:
        return f"{type(self).__name__}{self.domain_str} sampler={self.get_sampler()!r}"


class Float(Domain):
    """Floats in ``[lower, upper]`` (None bounds are infinite, for ``normal``)."""

    def __init__(self, lower: float | None, upper: float | None) -> None:
        self.lower = -_INF if lower is None else check_number("lower", lower)
        self.upper = _INF if upper is None else check_number("upper", upper)

    def cast(self, value: Any) -> float:
        return float(value)

    def uniform(self) -> Float:
        """Sample uniformly in ``[lower, upper)``."""
        check_bounds("uniform", self.lower, self.upper)
        return self._sampled(Uniform())

    def loguniform(self, base: float = 10) -> Float:
        """Sample uniformly in log space; needs ``0 < lower < upper``."""
        check_bounds("loguniform", self.lower, self.upper, positive=True)
        return self._sampled(LogUniform(base))

    def normal(self, mean: float = 0.0, sd: float = 1.0) -> Float:
        """Sample from a Gaussian (the domain must be unbounded)."""
        if self.lower > -_INF or self.upper < _INF:
            raise ValueError(
                f"normal sampling takes no bounds, got lower={self.lower!r}, upper={self.upper!r}; "
                "use Float(None, None).normal(...) or tune.randn(mean, sd)"
            )
        return self._sampled(Normal(mean, sd))

    def quantized(self, q: float) -> Float:
        """Round samples to multiples of ``q``; finite bounds must be multiples of ``q``."""
        check_q(q)
        for name, bound in (("lower", self.lower), ("upper", self.upper)):
            if math.isfinite(bound) and not math.isclose(bound / q, round(bound / q)):
                raise ValueError(
                    f"{name} bound {bound!r} is not a multiple of q={q!r}; "
                    f"choose bounds that are multiples of q, or a q that divides them"
                )
        return self._sampled(Quantized(self.get_sampler(), q), allow_override=True)

    def _draw(self, sampler: Sampler, rng: Any, config: Any) -> float:
        if isinstance(sampler, Quantized):
            q = sampler.q
            k_lo = math.ceil(snap(self.lower / q)) if math.isfinite(self.lower) else None
            k_hi = math.floor(snap(self.upper / q)) if math.isfinite(self.upper) else None
            raw = self._draw(sampler.sampler, rng, config)
            k = round(raw / q)
            k = k if k_lo is None else max(k, k_lo)
            k = k if k_hi is None else min(k, k_hi)
            return multiple(k, q)
        if isinstance(sampler, Uniform):
            return self.lower + (self.upper - self.lower) * rng.random()
        if isinstance(sampler, LogUniform):
            log_lo, log_hi = math.log(self.lower), math.log(self.upper)
            value = math.exp(log_lo + (log_hi - log_lo) * rng.random())
            return min(max(value, self.lower), self.upper)
        if isinstance(sampler, Normal):
            return rng.gauss(sampler.mean, sampler.sd)
        return super()._draw(sampler, rng, config)

    def is_valid(self, value: Any) -> bool:
        return isinstance(value, Real) and self.lower <= value <= self.upper

    @property
    def domain_str(self) -> str:
        return f"({self.lower}, {self.upper})"


class Integer(Domain):
    """Integers from ``lower`` to ``upper`` (exclusive; inclusive once quantized, as Ray)."""

    def __init__(self, lower: int, upper: int) -> None:
        self.lower = check_int("lower", lower)
        self.upper = check_int("upper", upper)

    def cast(self, value: Any) -> int:
        return int(value)

    def uniform(self) -> Integer:
        """Sample uniformly from ``lower`` to ``upper - 1``."""
        check_bounds("randint", self.lower, self.upper)
        return self._sampled(Uniform())

    def loguniform(self, base: float = 10) -> Integer:
        """Sample log-uniformly; needs ``0 < lower < upper``."""
        check_bounds("lograndint", self.lower, self.upper, positive=True)
        return self._sampled(LogUniform(base))

    def quantized(self, q: int) -> Integer:
        """Round samples to multiples of ``q``; makes ``upper`` inclusive."""
        check_q(q)
        if not float(q).is_integer():
            raise ValueError(f"integer quantization needs a whole q, got q={q!r}; use quniform for floats")
        q = int(q)
        if math.ceil(self.lower / q) > math.floor(self.upper / q):
            raise ValueError(
                f"no multiple of q={q!r} lies in [{self.lower!r}, {self.upper!r}]; widen the bounds or lower q"
            )
        return self._sampled(Quantized(self.get_sampler(), q), allow_override=True)

    def _draw(self, sampler: Sampler, rng: Any, config: Any) -> int:
        if isinstance(sampler, Quantized):
            q = int(sampler.q)
            k_lo, k_hi = math.ceil(self.lower / q), math.floor(self.upper / q)
            inner = sampler.sampler
            if isinstance(inner, LogUniform):
                log_lo, log_hi = math.log(self.lower), math.log(self.upper)
                k = round(math.exp(log_lo + (log_hi - log_lo) * rng.random()) / q)
                return min(max(k, k_lo), k_hi) * q
            return rng.randint(k_lo, k_hi) * q  # upper inclusive, uniform over multiples
        if isinstance(sampler, Uniform):
            return rng.randrange(self.lower, self.upper)
        if isinstance(sampler, LogUniform):
            log_lo, log_hi = math.log(self.lower), math.log(self.upper)
            value = math.floor(math.exp(log_lo + (log_hi - log_lo) * rng.random()))
            return min(max(value, self.lower), self.upper - 1)
        return super()._draw(sampler, rng, config)

    def is_valid(self, value: Any) -> bool:
        return isinstance(value, Real) and self.lower <= value <= self.upper

    @property
    def domain_str(self) -> str:
        return f"({self.lower}, {self.upper})"


class Categorical(Domain):
    """One of ``categories`` (any values; compared with ``==``)."""

    def __init__(self, categories: Sequence) -> None:
        if isinstance(categories, (str, bytes)) or not hasattr(categories, "__iter__"):
            raise TypeError(f"categories must be a list of values, got {categories!r}")
        self.categories = list(categories)
        if not self.categories:
            raise ValueError("choice()/grid_search() needs at least one value, got an empty list")

    def uniform(self) -> Categorical:
        """Sample each category with equal probability."""
        return self._sampled(Uniform())

    def grid(self) -> Categorical:
        """Mark as grid_search values."""
        return self._sampled(Grid())

    def _draw(self, sampler: Sampler, rng: Any, config: Any) -> Any:
        if isinstance(sampler, Uniform):
            return self.categories[rng.randrange(len(self.categories))]
        return super()._draw(sampler, rng, config)

    def __len__(self) -> int:
        return len(self.categories)

    def __getitem__(self, index: int) -> Any:
        return self.categories[index]

    def is_valid(self, value: Any) -> bool:
        return value in self.categories

    @property
    def domain_str(self) -> str:
        return f"{self.categories}"


class Function(Domain):
    """A value computed by ``func(spec)`` or ``func()``, resolved after other values."""

    default_sampler_cls = BaseSampler

    def __init__(self, func: Callable[..., Any]) -> None:
        if not callable(func):
            raise TypeError(f"sample_from needs a callable, got {func!r}")
        sig = signature(func)
        try:
            sig.bind({})
            pass_config = True
        except TypeError:
            pass_config = False
            try:
                sig.bind()
            except TypeError as exc:
                raise ValueError(
                    f"sample_from function {func!r} must take 0 arguments or 1 (the spec), "
                    f"its signature is {sig}"
                ) from exc
        self.func = func
        self.pass_config = pass_config

    def _draw(self, sampler: Sampler, rng: Any, config: Any) -> Any:
        return self.func({} if config is None else config) if self.pass_config else self.func()

    def is_function(self) -> bool:
        return True

    def is_valid(self, value: Any) -> bool:
        return True

    @property
    def domain_str(self) -> str:
        return f"({getattr(self.func, '__qualname__', self.func)!s})"


# --- constructors (Ray's tune.* names) ----------------------------------------


def uniform(lower: float, upper: float) -> Float:
    """A float uniformly in ``[lower, upper)``."""
    return Float(lower, upper).uniform()


def quniform(lower: float, upper: float, q: float) -> Float:
    """A float uniformly in ``[lower, upper]``, rounded to a multiple of ``q``."""
    return Float(lower, upper).uniform().quantized(q)


def loguniform(lower: float, upper: float, base: float = 10) -> Float:
    """A float log-uniformly in ``[lower, upper)``; ``lower`` must be > 0."""
    return Float(lower, upper).loguniform(base)


def qloguniform(lower: float, upper: float, q: float, base: float = 10) -> Float:
    """A log-uniform float rounded to a multiple of ``q`` (upper inclusive)."""
    return Float(lower, upper).loguniform(base).quantized(q)


def randint(lower: int, upper: int) -> Integer:
    """An int uniformly from ``lower`` to ``upper`` (exclusive)."""
    return Integer(lower, upper).uniform()


def qrandint(lower: int, upper: int, q: int = 1) -> Integer:
    """A multiple of ``q`` uniformly from ``lower`` to ``upper`` (inclusive, as Ray)."""
    return Integer(lower, upper).uniform().quantized(q)


def lograndint(lower: int, upper: int, base: float = 10) -> Integer:
    """An int log-uniformly from ``lower`` to ``upper`` (exclusive); ``lower`` must be > 0."""
    return Integer(lower, upper).loguniform(base)


def qlograndint(lower: int, upper: int, q: int, base: float = 10) -> Integer:
    """A log-uniform multiple of ``q`` from ``lower`` to ``upper`` (inclusive)."""
    return Integer(lower, upper).loguniform(base).quantized(q)


def randn(mean: float = 0.0, sd: float = 1.0) -> Float:
    """A float from a Gaussian with ``mean`` and ``sd``."""
    return Float(None, None).normal(mean, sd)


def qrandn(mean: float, sd: float, q: float) -> Float:
    """A Gaussian float rounded to a multiple of ``q``."""
    return Float(None, None).normal(mean, sd).quantized(q)


def choice(categories: Sequence) -> Categorical:
    """One of ``categories``, uniformly."""
    return Categorical(categories).uniform()


def sample_from(func: Callable[..., Any]) -> Function:
    """A value computed by ``func(spec)``; ``spec.config`` is the partially resolved config.

    ``spec`` also gives the config's keys directly (``spec["a"]``, ``spec.a``), as
    newer Ray passes the config itself.
    """
    return Function(func)


def grid_search(values: Sequence) -> dict[str, Sequence]:
    """Try every one of ``values``; several grid_searches give their cross product."""
    if isinstance(values, (str, bytes, dict)) or not hasattr(values, "__iter__"):
        raise TypeError(f"grid_search needs a list of values, got {values!r}")
    if not isinstance(values, (list, tuple)):
        values = list(values)
    if len(values) == 0:
        raise ValueError("grid_search needs at least one value, got an empty list")
    return {"grid_search": values}
