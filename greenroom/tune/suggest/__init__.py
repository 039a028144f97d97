"""Ray's old ``ray.tune.suggest`` path: the same objects as ``greenroom.tune.search``."""

from greenroom.tune.search import (
    BasicVariantGenerator,
    BayesOptSearch,
    ConcurrencyLimiter,
    HyperOptSearch,
    OptunaSearch,
    Repeater,
    SearchAlgorithm,
    Searcher,
    SearchGenerator,
    TrialSuggestion,
    create_searcher,
)

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
