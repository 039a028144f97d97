"""Whether a trial fits beside the running ones: resource arithmetic in fixed point, no I/O.

Amounts are integers of ``1 / UNIT`` of a resource, as the node's scheduler
counts them (4 decimals, as Ray), so 0.5 + 0.5 GPU is exactly 1 GPU and 0.1 CPU
fits exactly three times in 0.3. Tune repeats this small rule instead of
importing the scheduler: it sits above the actors layer and sees the node
only through ``ray.cluster_resources()``, which works on a Ray cluster too.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from greenroom.tune.error import TuneError

UNIT = 10_000


def to_units(amounts: Mapping[str, float]) -> dict[str, int]:
    """``amounts`` in units, sorted by name, without zero amounts."""
    units = {name: round(value * UNIT) for name, value in sorted(amounts.items())}
    return {name: n for name, n in units.items() if n}


def _from_units(units: Mapping[str, int]) -> dict[str, float]:
    return {name: n / UNIT for name, n in units.items()}


def check_fits_alone(request: Mapping[str, float], total: Mapping[str, float]) -> None:
    """Raise unless one trial holding ``request`` fits in ``total`` (the node, empty).

    Raises:
        TuneError: it never could; the message names what is short and what to change.
    """
    trials_that_fit(request, total)


def fits_beside(
    request: Mapping[str, float], running: Iterable[Mapping[str, float]], total: Mapping[str, float]
) -> bool:
    """Whether a trial holding ``request`` fits in ``total`` beside trials holding ``running``."""
    used: dict[str, int] = {}
    for other in running:
        for name, n in to_units(other).items():
            used[name] = used.get(name, 0) + n
    have = to_units(total)
    return all(used.get(name, 0) + n <= have.get(name, 0) for name, n in to_units(request).items())


def trials_that_fit(
    request: Mapping[str, float], total: Mapping[str, float], max_concurrent: int | None = None
) -> int:
    """How many trials, each holding ``request``, fit at once in ``total``.

    Args:
        request: one trial's resources, the sum of its bundles ({"CPU": 1, "GPU": 0.5}).
        total: the node's resources, as ``ray.cluster_resources()`` gives them.
        max_concurrent: a further cap (``max_concurrent_trials``); None or 0 for none.
    Returns:
        At least 1: the fewest whole requests any one resource holds, capped.
    Raises:
        TuneError: not even one trial fits; the message names what is short.
    """
    need, have = to_units(request), to_units(total)
    short = {name: n for name, n in need.items() if n > have.get(name, 0)}
    if short:
        raise TuneError(
            f"each trial asks for {dict(request)} but this node has {_from_units(have)} in total, so no "
            f"trial could ever start (short of {_from_units(short)}). Lower resources_per_trial, or start "
            "greenroom with more (init(num_cpus=..., num_gpus=...))."
        )
    fit = max(min((have[name] // n for name, n in need.items()), default=1), 1)
    return min(fit, max_concurrent) if max_concurrent else fit


class ResourceTotals:
    """The node's totals as a trial scheduler reads them (Ray's ``_resource_updater``):
    ``ResourceChangingScheduler`` allocation functions call ``get_num_cpus()``/``get_num_gpus()``."""

    def __init__(self, total: Mapping[str, float]) -> None:
        self._total = dict(total)

    def get_num_cpus(self) -> float:
        return float(self._total.get("CPU", 0.0))

    def get_num_gpus(self) -> float:
        return float(self._total.get("GPU", 0.0))
