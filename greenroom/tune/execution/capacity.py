"""How many trials may run at once: resource arithmetic in fixed point, no I/O.

Amounts are integers of ``1 / UNIT`` of a resource, as the node's scheduler
counts them (4 decimals, as Ray), so 0.5 + 0.5 GPU is exactly 1 GPU and 0.1 CPU
fits exactly three times in 0.3. Tune repeats this small rule instead of
importing the scheduler: it sits above the actors layer and sees the node
only through ``ray.cluster_resources()``, which works on a Ray cluster too.
"""

from __future__ import annotations

from collections.abc import Mapping

from greenroom.tune.error import TuneError

UNIT = 10_000


def to_units(amounts: Mapping[str, float]) -> dict[str, int]:
    """``amounts`` in units, sorted by name, without zero amounts."""
    units = {name: round(value * UNIT) for name, value in sorted(amounts.items())}
    return {name: n for name, n in units.items() if n}


def _from_units(units: Mapping[str, int]) -> dict[str, float]:
    return {name: n / UNIT for name, n in units.items()}


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
