"""What the trial runner asks for trials: ``SearchAlgorithm`` and ``SearchGenerator``.

The runner sees one interface for the default ``BasicVariantGenerator`` and
for user ``Searcher`` objects (wrapped in ``SearchGenerator``):

1. ``set_search_properties(metric, mode, param_space)`` once,
2. ``add_configurations(param_space, num_samples)`` once,
3. ``next_trial()`` until ``is_finished()``; None means "nothing now, ask
   again after a trial ends" (a concurrency limit, or a searcher waiting),
4. ``on_trial_result`` / ``on_trial_complete`` as trials report and end.

Every suggestion comes back as a ``TrialSuggestion``; nothing here starts
processes or does I/O.
"""

from __future__ import annotations

import abc
import copy
import uuid
from dataclasses import dataclass
from typing import Any

from greenroom.tune.search._paths import deep_merge, flatten_dict, path_name
from greenroom.tune.search.searcher import Searcher
from greenroom.tune.search.variant_generator import _split, format_vars, parse_spec_vars

__all__ = ["SearchAlgorithm", "SearchGenerator", "TrialSuggestion"]


@dataclass(frozen=True, slots=True)
class TrialSuggestion:
    """One trial to create: its id, resolved config, sampled values and tag."""

    trial_id: str
    config: dict
    evaluated_params: dict  # the sampled/grid values, flat ("a/b": value)
    experiment_tag: str  # Ray's "0_lr=0.0100,momentum=0.9000"
    experiment: str = ""  # the experiment it belongs to (tune.run_experiments); "" for the first


class SearchAlgorithm(abc.ABC):
    """Interface the trial runner uses to get trials (see module docstring)."""

    def set_search_properties(self, metric: str | None, mode: str | None, config: dict, **spec: Any) -> bool:
        """Pass the experiment's metric, mode and param_space; True if accepted."""
        return True

    @abc.abstractmethod
    def add_configurations(self, param_space: dict, num_samples: int = 1, seed: Any = None) -> None:
        """Register the experiment's param_space and how many samples to take of it."""

    @abc.abstractmethod
    def next_trial(self) -> TrialSuggestion | None:
        """The next trial, or None if there is none right now."""

    @abc.abstractmethod
    def is_finished(self) -> bool:
        """True once no more trials will come."""

    def set_finished(self) -> None:
        """Stop suggesting: ``is_finished()`` is True from now on (Ray's name)."""
        self._finished = True

    def on_trial_result(self, trial_id: str, result: dict) -> None:
        """An intermediate result of a trial this algorithm suggested."""

    def on_trial_complete(self, trial_id: str, result: dict | None = None, error: bool = False) -> None:
        """A trial ended (``error`` if it failed); frees concurrency slots."""

    @property
    def total_samples(self) -> int:
        """How many trials this algorithm will suggest, as far as known."""
        return 0

    @property
    def metric(self) -> str | None:
        return None


def _dict_leaves(config: dict, prefix: tuple = ()) -> dict[tuple, Any]:
    """Leaves of nested dicts by path; lists stay whole (Ray's tag for searcher trials)."""
    leaves: dict[tuple, Any] = {}
    for key, value in config.items():
        if isinstance(value, dict) and value:
            leaves.update(_dict_leaves(value, prefix + (key,)))
        else:
            leaves[prefix + (key,)] = value
    return leaves


def new_trial_id(taken: set[str]) -> str:
    """8 lowercase hex characters not in ``taken`` (which it joins)."""
    while True:
        trial_id = uuid.uuid4().hex[:8]
        if trial_id not in taken:
            taken.add(trial_id)
            return trial_id


class SearchGenerator(SearchAlgorithm):
    """Runs a user ``Searcher`` behind the ``SearchAlgorithm`` interface.

    Constants of the param_space are merged under every suggestion; grid_search
    and other domains are allowed only when the searcher accepted the space in
    ``set_search_properties`` (Ray: most searchers reject grid search there).

    Args:
        searcher: a ``Searcher`` (e.g. ``OptunaSearch``, ``ConcurrencyLimiter(...)``).

    Raises:
        TypeError: ``searcher`` is not a ``Searcher``.
    """

    def __init__(self, searcher: Searcher) -> None:
        if not isinstance(searcher, Searcher):
            raise TypeError(
                f"SearchGenerator needs a greenroom.tune.search.Searcher, got {searcher!r}; "
                "subclass Searcher and implement suggest()"
            )
        self.searcher = searcher
        self._param_space: dict | None = None
        self._accepted: bool | None = None  # set_search_properties' answer
        self._total_samples = 0
        self._counter = 0
        self._finished = False
        self._ids: set[str] = set()

    @property
    def metric(self) -> str | None:
        return self.searcher.metric

    @property
    def total_samples(self) -> int:
        return self._total_samples

    def set_search_properties(self, metric: str | None, mode: str | None, config: dict, **spec: Any) -> bool:
        self._accepted = bool(self.searcher.set_search_properties(metric, mode, config, **spec))
        return self._accepted

    def add_configurations(self, param_space: dict, num_samples: int = 1, seed: Any = None) -> None:
        """Register the param_space; ``suggest`` is asked until ``num_samples`` trials exist.

        Raises:
            ValueError: the param_space has grid_search or domains the searcher
                did not accept; ``num_samples`` < 1.
            RuntimeError: called twice.
        """
        if self._param_space is not None:
            raise RuntimeError(
                "SearchGenerator runs one experiment; create a new one for another param_space"
            )
        if not isinstance(num_samples, int) or num_samples < 1:
            raise ValueError(f"num_samples must be an int >= 1, got {num_samples!r}")
        param_space = dict(param_space or {})
        if self._accepted is None:
            self.set_search_properties(None, None, param_space)
        _, domain_vars, grid_vars = parse_spec_vars(param_space)
        name = type(self.searcher).__name__
        if grid_vars and not self._accepted:
            paths = ", ".join(repr(path_name(p)) for p, _ in grid_vars)
            raise ValueError(
                f"param_space has grid_search at {paths}, which {name} does not support; "
                "use tune.choice(...) instead, or drop search_alg to grid search with the default "
                "BasicVariantGenerator"
            )
        if domain_vars and not self._accepted:
            paths = ", ".join(repr(path_name(p)) for p, _ in domain_vars)
            raise ValueError(
                f"param_space has search domains at {paths}, but {name} keeps its own search space "
                "(its set_search_properties() returned False); define them in the searcher's space "
                "or pass them only in param_space"
            )
        self._param_space = param_space
        self._total_samples = num_samples

    def next_trial(self) -> TrialSuggestion | None:
        if self._param_space is None:
            raise RuntimeError("call add_configurations(param_space, num_samples) before next_trial()")
        if self.is_finished():
            return None
        trial_id = new_trial_id(self._ids)
        suggestion = self.searcher.suggest(trial_id)
        if isinstance(suggestion, str) and suggestion == Searcher.FINISHED:
            self._finished = True
            return None
        if suggestion is None:
            return None
        if not isinstance(suggestion, dict):
            raise TypeError(
                f"{type(self.searcher).__name__}.suggest() returned {suggestion!r}; "
                "return a dict, None (nothing now) or Searcher.FINISHED"
            )
        config = deep_merge(self._param_space, copy.deepcopy(suggestion))
        left = _split(config)[1]
        if left:
            paths = ", ".join(repr(path_name(p)) for p, _ in left)
            raise ValueError(
                f"{type(self.searcher).__name__}.suggest() gave no value for {paths}, which param_space "
                "defines as a search domain; return every parameter of the space from suggest()"
            )
        self._counter += 1
        tag = f"{self._counter}_{format_vars(_dict_leaves(config))}"
        return TrialSuggestion(trial_id, config, flatten_dict(suggestion), tag)

    def on_trial_result(self, trial_id: str, result: dict) -> None:
        self.searcher.on_trial_result(trial_id, result)

    def on_trial_complete(self, trial_id: str, result: dict | None = None, error: bool = False) -> None:
        self.searcher.on_trial_complete(trial_id, result=result, error=error)

    def is_finished(self) -> bool:
        return self._finished or self._counter >= self._total_samples
