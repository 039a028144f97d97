"""``SearchAlgorithm`` at Ray's module path (defined in ``search_generator``)."""

from greenroom.tune.search.search_generator import SearchAlgorithm, TrialSuggestion

__all__ = ["SearchAlgorithm", "TrialSuggestion"]
