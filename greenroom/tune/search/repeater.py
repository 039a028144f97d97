"""``Repeater``: run each suggestion of a searcher several times; the searcher sees their mean.

The first trial of a group is the one the wrapped searcher suggested and
hears back about (its "primary"); the others repeat its config, each with
``config["__trial_index__"]`` (``TRIAL_INDEX``) set to its place in the group,
for seeds. When every trial of a group has completed, the searcher gets
``on_trial_complete(primary, {metric: mean})``, NaN-free where possible.
``num_samples`` counts every trial, repeats included.
"""

from __future__ import annotations

import copy
import logging
import math
from typing import Any

from greenroom.tune.search.searcher import Searcher

__all__ = ["Repeater", "TRIAL_INDEX"]

logger = logging.getLogger(__name__)

TRIAL_INDEX = "__trial_index__"
"""The key of a repeated trial's index in its group (0 for the first)."""


class _TrialGroup:
    """The trials of one suggestion and their scores (None until each completes)."""

    def __init__(self, primary_trial_id: str, config: dict, max_trials: int) -> None:
        self.primary_trial_id = primary_trial_id
        self.config = config
        self.max_trials = max_trials
        self.scores: dict[str, float | None] = {primary_trial_id: None}

    def add(self, trial_id: str) -> None:
        self.scores.setdefault(trial_id, None)

    def full(self) -> bool:
        return len(self.scores) >= self.max_trials

    def count(self) -> int:
        return len(self.scores)

    def finished_reporting(self) -> bool:
        return self.full() and all(score is not None for score in self.scores.values())


def _nanmean(values: list[float]) -> float:
    finite = [v for v in values if not math.isnan(v)]
    return sum(finite) / len(finite) if finite else math.nan


class Repeater(Searcher):
    """Wraps ``searcher`` so that each config it suggests runs ``repeat`` times.

    Args:
        searcher: the ``Searcher`` to repeat; it sees one trial per group, scored with
            the mean of the group's results for its metric.
        repeat: trials per suggestion.
        set_index: put the trial's index in its group in ``config["__trial_index__"]``.

    Raises:
        TypeError: ``searcher`` is not a ``Searcher``.
        ValueError: ``repeat`` is not an int >= 1.
    """

    def __init__(self, searcher: Searcher, repeat: int = 1, set_index: bool = True) -> None:
        if not isinstance(searcher, Searcher):
            raise TypeError(f"Repeater wraps a tune.search.Searcher, got {searcher!r}")
        if isinstance(repeat, bool) or not isinstance(repeat, int) or repeat < 1:
            raise ValueError(f"repeat must be an int >= 1, got {repeat!r}")
        self.searcher = searcher
        self.repeat = repeat
        self._set_index = set_index
        self._groups: list[_TrialGroup] = []
        self._trial_id_to_group: dict[str, _TrialGroup] = {}
        self._current_group: _TrialGroup | None = None
        super().__init__(metric=searcher.metric, mode=searcher.mode)

    @property
    def metric(self) -> str | None:
        return self.searcher.metric

    @property
    def mode(self) -> str | None:
        return self.searcher.mode

    def set_search_properties(self, metric: str | None, mode: str | None, config: dict, **spec: Any) -> bool:
        return self.searcher.set_search_properties(metric, mode, config, **spec)

    def suggest(self, trial_id: str) -> dict | str | None:
        group = self._current_group
        if group is None or group.full():
            config = self.searcher.suggest(trial_id)
            if config is None or (isinstance(config, str) and config == Searcher.FINISHED):
                return config
            group = self._current_group = _TrialGroup(trial_id, copy.deepcopy(config), self.repeat)
            self._groups.append(group)
            index = 0
        else:
            index = group.count()
            group.add(trial_id)
        self._trial_id_to_group[trial_id] = group
        config = copy.deepcopy(group.config)
        if self._set_index:
            config[TRIAL_INDEX] = index
        return config

    def on_trial_complete(self, trial_id: str, result: dict | None = None, error: bool = False) -> None:
        """Score the trial with ``result[metric]`` (NaN without one); a full group reports its mean."""
        group = self._trial_id_to_group.get(trial_id)
        if group is None:
            logger.error(
                "Repeater: trial %s is in no group; seen %s", trial_id, sorted(self._trial_id_to_group)
            )
            return
        metric = self.searcher.metric
        value = (result or {}).get(metric) if metric else None
        group.scores[trial_id] = float(value) if isinstance(value, (int, float)) else math.nan
        if group.finished_reporting():
            mean = _nanmean([s for s in group.scores.values() if s is not None])
            self.searcher.on_trial_complete(group.primary_trial_id, result={metric: mean}, error=error)

    def get_state(self) -> dict:
        state = self.__dict__.copy()
        del state["searcher"]
        return state

    def set_state(self, state: dict) -> None:
        self.__dict__.update(state)
