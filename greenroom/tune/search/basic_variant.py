"""``BasicVariantGenerator``: the default search algorithm (grid + random search).

Each ``add_configurations`` call queues one experiment: first its
``points_to_evaluate`` (each fills in part of the param_space and uses one of
``num_samples``; grids it leaves open are still expanded), then the remaining
samples, each a full pass over the grid. Variants are generated lazily, one
ahead, so ``is_finished`` is exact. Trial ids are Ray's: a 5-hex prefix per
generator and a 5-digit counter (``"3f2a1_00007"``).
"""

from __future__ import annotations

import copy
import logging
import uuid
from collections import deque
from collections.abc import Iterator
from typing import Any

from greenroom.tune.search._samplers import as_rng
from greenroom.tune.search.search_generator import SearchAlgorithm, TrialSuggestion
from greenroom.tune.search.variant_generator import (
    _generate,
    apply_point,
    count_variants,
    flatten_resolved_vars,
    format_vars,
    point_warnings,
)

__all__ = ["BasicVariantGenerator"]

logger = logging.getLogger(__name__)


class BasicVariantGenerator(SearchAlgorithm):
    """Grid search and random sampling of the param_space, as Ray's default.

    Args:
        points_to_evaluate: configs (full or partial) to run first.
        max_concurrent: at most this many live trials; 0 means no limit.
        random_state: int seed, ``random.Random``, numpy generator, or None: draw from
            the program's global RNG (numpy's where numpy is installed, as Ray; else
            ``random``'s) when the search starts, so seeding it before ``tune.run`` or
            ``fit()`` reproduces the configs.
        constant_grid_search: sample random values once and reuse them for
            every grid combination, instead of resampling per combination.

    Raises:
        ValueError: ``max_concurrent`` < 0.
        TypeError: a point is not a dict.
    """

    def __init__(
        self,
        points_to_evaluate: list[dict] | None = None,
        max_concurrent: int = 0,
        random_state: Any = None,
        constant_grid_search: bool = False,
    ) -> None:
        if not isinstance(max_concurrent, int) or max_concurrent < 0:
            raise ValueError(f"max_concurrent must be an int >= 0 (0: no limit), got {max_concurrent!r}")
        points = list(points_to_evaluate or [])
        for index, point in enumerate(points):
            if not isinstance(point, dict):
                raise TypeError(
                    f"points_to_evaluate[{index}] must be a dict of parameter values, got {point!r}"
                )
        self._points = points
        self.max_concurrent = max_concurrent
        self._rng = None if random_state is None else as_rng(random_state)
        self._constant_grid_search = constant_grid_search
        self._prefix = uuid.uuid4().hex[:5]
        self._counter = 0
        self._total_samples = 0
        self._experiments: deque[tuple[str, Iterator[tuple[dict, dict]]]] = deque()
        self._next: tuple[str, tuple[dict, dict]] | None = None
        self._live: set[str] = set()

    @property
    def total_samples(self) -> int:
        return self._total_samples

    @property
    def live_trials(self) -> frozenset[str]:
        """Ids of suggested trials not yet completed."""
        return frozenset(self._live)

    def add_configurations(
        self, param_space: Any, num_samples: int = 1, seed: Any = None, experiment: str = ""
    ) -> None:
        """Queue ``num_samples`` passes over ``param_space`` (points first).

        Args:
            param_space: the config with domains and grid_search values; or, as Ray's
                signature, a ``tune.Experiment`` or a list of them (each with its own
                config and num_samples).
            num_samples: how many times to sample the whole grid.
            seed: a seed for this experiment only; default: the generator's random_state.
            experiment: the name of the experiment its trials belong to (``tune.run_experiments``).

        Raises:
            ValueError: ``num_samples`` < 1; a point names a key not in ``param_space``.
        """
        if isinstance(param_space, list) or hasattr(param_space, "spec"):  # Ray's Experiment form
            for exp in param_space if isinstance(param_space, list) else [param_space]:
                self.add_configurations(exp.spec["config"], exp.spec["num_samples"], seed, exp.dir_name)
            return
        if not isinstance(num_samples, int) or num_samples < 1:
            raise ValueError(f"num_samples must be an int >= 1, got {num_samples!r}")
        param_space = copy.deepcopy(dict(param_space or {}))
        presets = [apply_point(param_space, point, index=i) for i, point in enumerate(self._points)]
        for point in self._points:
            for message in point_warnings(param_space, point):
                logger.warning("points_to_evaluate: %s; running it anyway", message)
        if seed is not None:
            rng = as_rng(seed)
        else:
            if self._rng is None:  # the program's seed counts from here, not from construction
                self._rng = as_rng(None)
            rng = self._rng
        self._total_samples += count_variants(param_space, num_samples, self._points)
        self._experiments.append((experiment, self._variants(param_space, presets, num_samples, rng)))

    def _variants(
        self, param_space: dict, presets: list[dict], num_samples: int, rng: Any
    ) -> Iterator[tuple[dict, dict]]:
        for preset in presets:
            yield from _generate(preset, self._constant_grid_search, rng)
        for _ in range(num_samples - len(presets)):
            yield from _generate(param_space, self._constant_grid_search, rng)

    def _peek(self) -> tuple[str, tuple[dict, dict]] | None:
        while self._next is None and self._experiments:
            name, variants = self._experiments[0]
            try:
                self._next = (name, next(variants))
            except StopIteration:
                self._experiments.popleft()
        return self._next

    def next_trial(self) -> TrialSuggestion | None:
        """The next variant as a trial, or None (finished, or ``max_concurrent`` live)."""
        if self.max_concurrent > 0 and len(self._live) >= self.max_concurrent:
            return None
        head = self._peek()
        if head is None:
            return None
        self._next = None
        experiment, (resolved_vars, config) = head
        trial_id = f"{self._prefix}_{self._counter:05d}"
        tag = str(self._counter)
        if resolved_vars:
            tag += f"_{format_vars(resolved_vars)}"
        self._counter += 1
        self._live.add(trial_id)
        return TrialSuggestion(trial_id, config, flatten_resolved_vars(resolved_vars), tag, experiment)

    def on_trial_complete(self, trial_id: str, result: dict | None = None, error: bool = False) -> None:
        self._live.discard(trial_id)

    def set_finished(self) -> None:
        """Drop every queued variant; ``add_configurations`` can queue more."""
        self._experiments.clear()
        self._next = None

    def is_finished(self) -> bool:
        return self._peek() is None
