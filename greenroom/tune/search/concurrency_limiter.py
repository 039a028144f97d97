"""``ConcurrencyLimiter``: at most ``max_concurrent`` live trials from a searcher.

A trial is live from a successful ``suggest`` until ``on_trial_complete``.
With ``batch=True`` the wrapped searcher hears of completions only when the
whole live batch has ended, so it suggests the next batch from all of them.
"""

from __future__ import annotations

import logging
from typing import Any

from greenroom.tune.search.searcher import Searcher

__all__ = ["ConcurrencyLimiter"]

logger = logging.getLogger(__name__)


class ConcurrencyLimiter(Searcher):
    """Wraps a ``Searcher`` so that no more than ``max_concurrent`` trials run at once.

    If the searcher limits concurrency itself (its ``set_max_concurrency``
    returns True), the limiter passes everything through.

    Args:
        searcher: the ``Searcher`` to limit.
        max_concurrent: maximum live trials (>= 1).
        batch: hold completions until the whole batch of live trials has ended.

    Raises:
        TypeError: ``searcher`` is not a ``Searcher``.
        ValueError: ``max_concurrent`` is not an int >= 1.
    """

    def __init__(self, searcher: Searcher, max_concurrent: int, batch: bool = False) -> None:
        if not isinstance(searcher, Searcher):
            raise TypeError(
                f"ConcurrencyLimiter wraps a Searcher, got {searcher!r}; for the default search "
                "pass max_concurrent to BasicVariantGenerator (or tune.run(max_concurrent_trials=...))"
            )
        if isinstance(max_concurrent, bool) or not isinstance(max_concurrent, int) or max_concurrent < 1:
            raise ValueError(f"max_concurrent must be an int >= 1, got {max_concurrent!r}")
        self.searcher = searcher
        self.max_concurrent = max_concurrent
        self.batch = batch
        self.live_trials: set[str] = set()
        self.num_unfinished_live_trials = 0
        self.cached_results: dict[str, tuple[dict | None, bool]] = {}
        self._limit_concurrency = not searcher.set_max_concurrency(max_concurrent)
        super().__init__(metric=searcher.metric, mode=searcher.mode)

    @property
    def metric(self) -> str | None:
        return self.searcher.metric

    @property
    def mode(self) -> str | None:
        return self.searcher.mode

    def set_max_concurrency(self, max_concurrent: int) -> bool:
        self.max_concurrent = max_concurrent
        return True

    def set_search_properties(self, metric: str | None, mode: str | None, config: dict, **spec: Any) -> bool:
        self._limit_concurrency = not self.searcher.set_max_concurrency(self.max_concurrent)
        return self.searcher.set_search_properties(metric, mode, config, **spec)

    def suggest(self, trial_id: str) -> dict | str | None:
        if not self._limit_concurrency:
            return self.searcher.suggest(trial_id)
        if trial_id in self.live_trials:
            raise ValueError(f"trial id {trial_id!r} was already suggested; give each trial a new id")
        if len(self.live_trials) >= self.max_concurrent:
            logger.debug(
                "not suggesting %s: %d/%d trials live", trial_id, len(self.live_trials), self.max_concurrent
            )
            return None
        suggestion = self.searcher.suggest(trial_id)
        if suggestion is not None and not (isinstance(suggestion, str) and suggestion == Searcher.FINISHED):
            self.live_trials.add(trial_id)
            self.num_unfinished_live_trials += 1
        return suggestion

    def on_trial_result(self, trial_id: str, result: dict) -> None:
        self.searcher.on_trial_result(trial_id, result)

    def on_trial_complete(self, trial_id: str, result: dict | None = None, error: bool = False) -> None:
        if not self._limit_concurrency:
            self.searcher.on_trial_complete(trial_id, result=result, error=error)
            return
        if trial_id not in self.live_trials or trial_id in self.cached_results:
            return
        if not self.batch:
            self.searcher.on_trial_complete(trial_id, result=result, error=error)
            self.live_trials.discard(trial_id)
            self.num_unfinished_live_trials -= 1
            return
        self.cached_results[trial_id] = (result, error)
        self.num_unfinished_live_trials -= 1
        if self.num_unfinished_live_trials > 0:
            return
        for done_id, (done_result, done_error) in self.cached_results.items():
            self.searcher.on_trial_complete(done_id, result=done_result, error=done_error)
            self.live_trials.discard(done_id)
        self.cached_results = {}
        self.num_unfinished_live_trials = 0

    def add_evaluated_point(
        self,
        parameters: dict,
        value: float,
        error: bool = False,
        pruned: bool = False,
        intermediate_values: list[float] | None = None,
    ) -> None:
        self.searcher.add_evaluated_point(parameters, value, error, pruned, intermediate_values)

    def get_state(self) -> dict:
        state = self.__dict__.copy()
        del state["searcher"]
        return state

    def set_state(self, state: dict) -> None:
        self.__dict__.update(state)

    def save(self, checkpoint_path: str) -> None:
        self.searcher.save(checkpoint_path)

    def restore(self, checkpoint_path: str) -> None:
        self.searcher.restore(checkpoint_path)
