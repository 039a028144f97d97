"""Ray Tune's search API: ``Searcher``, wrappers, the default generator, adapters.

``from greenroom.tune.search import OptunaSearch`` works without optuna; the
ImportError (with the pip command) comes when the searcher is constructed.
The trial runner uses ``SearchAlgorithm`` (``BasicVariantGenerator``, or a
``Searcher`` wrapped in ``SearchGenerator``); see ``search_generator``.
"""

from __future__ import annotations

from typing import Any

from greenroom.tune.search.basic_variant import BasicVariantGenerator
from greenroom.tune.search.bayesopt import BayesOptSearch
from greenroom.tune.search.concurrency_limiter import ConcurrencyLimiter
from greenroom.tune.search.hyperopt import HyperOptSearch
from greenroom.tune.search.optuna import OptunaSearch
from greenroom.tune.search.repeater import Repeater
from greenroom.tune.search.search_generator import SearchAlgorithm, SearchGenerator, TrialSuggestion
from greenroom.tune.search.searcher import Searcher

__all__ = [
    "BasicVariantGenerator",
    "BayesOptSearch",
    "ConcurrencyLimiter",
    "HyperOptSearch",
    "OptunaSearch",
    "Repeater",
    "SearchAlgorithm",
    "SearchGenerator",
    "Searcher",
    "TrialSuggestion",
    "create_searcher",
]

_SEARCHERS = {
    "variant_generator": BasicVariantGenerator,
    "random": BasicVariantGenerator,
    "optuna": OptunaSearch,
    "hyperopt": HyperOptSearch,
    "bayesopt": BayesOptSearch,
}


def create_searcher(search_alg: str, **kwargs: Any) -> Searcher | SearchAlgorithm:
    """A search algorithm by Ray's name ("optuna", "hyperopt", "bayesopt", "random", ...).

    Raises:
        ValueError: an unknown or unsupported name.
    """
    try:
        cls = _SEARCHERS[search_alg]
    except KeyError:
        raise ValueError(
            f"unknown search algorithm {search_alg!r}; greenroom supports {sorted(_SEARCHERS)}"
        ) from None
    return cls(**kwargs)
