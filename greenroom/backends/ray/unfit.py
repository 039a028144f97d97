"""Requests that no node of the Ray cluster fits now: they wait, and greenroom says so once.

On greenroom's own node such a request fails at once (nothing will ever fit it). A Ray
cluster can grow (an autoscaler adds nodes), so there the request waits, as in Ray; what
greenroom adds is one warning per distinct request naming what waits and why. ``fits``
is the pure check; ``Notes`` remembers what was said.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

logger = logging.getLogger("greenroom")


def _fits(node: dict[str, float], wanted: dict[str, float]) -> bool:
    return all(node.get(k, 0) >= v for k, v in wanted.items() if v)


def fits(bundles: list[dict[str, float]], strategy: str, nodes: list[dict[str, float]]) -> bool:
    """Whether the cluster's nodes (their total resources) can ever hold ``bundles`` placed by
    ``strategy`` (a task or actor is one bundle, "PACK"). STRICT_SPREAD is checked loosely: as
    many fitting nodes as bundles."""
    if strategy == "STRICT_PACK":
        summed: dict[str, float] = {}
        for bundle in bundles:
            for k, v in bundle.items():
                summed[k] = summed.get(k, 0) + v
        return any(_fits(node, summed) for node in nodes)
    if not all(any(_fits(node, b) for node in nodes) for b in bundles):
        return False
    if strategy == "STRICT_SPREAD":
        return sum(1 for node in nodes if any(_fits(node, b) for b in bundles)) >= len(bundles)
    return True


class Notes:
    """Warns once per distinct request that it waits for a node that fits."""

    def __init__(self, nodes: Callable[[], list[dict]]) -> None:
        self._nodes = nodes  # ray.nodes
        self._said: set = set()

    def check(self, key: Any, bundles: list[dict[str, float]], strategy: str, what: str) -> None:
        if key in self._said:
            return
        try:
            totals = [n.get("Resources", {}) for n in self._nodes() if n.get("Alive")]
        except Exception:  # the check is advice: never let it fail a submission
            return
        if fits(bundles, strategy, totals):
            return
        self._said.add(key)
        asked = bundles[0] if len(bundles) == 1 else f"bundles {bundles} ({strategy})"
        logger.warning(
            "%s asks for %s, which no node of the Ray cluster can hold now (nodes: %s); it waits until "
            "a node that fits joins (an autoscaler adds one), as in Ray", what, asked, totals,
        )  # fmt: skip
