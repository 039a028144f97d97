"""Shared pieces of the optional-library searchers (Optuna, HyperOpt, BayesOpt).

Libraries are imported when a searcher is constructed, never at module
import, so ``greenroom.tune.search`` imports without them. Parameters are
named by their "/"-joined path in the param_space; suggestions are built back
into nested dicts keyed by the original path tuples.
"""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import Any

from greenroom.tune.experiment.trial import lookup
from greenroom.tune.search._paths import Path, flatten_dict, get_value, path_name, unflatten_paths
from greenroom.tune.search.sample import Domain
from greenroom.tune.search.searcher import Searcher, validate_mode
from greenroom.tune.search.variant_generator import parse_spec_vars

__all__ = [
    "check_ready",
    "has_domains",
    "import_optional",
    "metric_value",
    "nested",
    "point_params",
    "space_domains",
]


def import_optional(module: str, package: str, owner: str) -> ModuleType:
    """Import ``module`` or raise ImportError saying how to install ``package``."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise ImportError(
            f"{owner} needs the {package!r} package, which is not installed; "
            f"install {package}: pip install {package}"
        ) from exc


def space_domains(space: dict, owner: str) -> list[tuple[Path, str, Domain]]:
    """``(path, label, domain)`` for each domain of a greenroom param_space.

    Raises:
        ValueError: the space has grid_search, which these searchers do not support.
    """
    _, domain_vars, grid_vars = parse_spec_vars(space)
    if grid_vars:
        paths = ", ".join(repr(path_name(p)) for p, _ in grid_vars)
        raise ValueError(
            f"{owner} cannot search grid_search parameters ({paths}); use tune.choice(...) "
            "instead, or the default BasicVariantGenerator for grid search"
        )
    return [(path, path_name(path), domain) for path, domain in domain_vars]


def has_domains(space: Any) -> bool:
    """Whether ``space`` is a dict holding greenroom domains or grid_search values."""
    if not isinstance(space, dict):
        return False
    _, domain_vars, grid_vars = parse_spec_vars(space)
    return bool(domain_vars or grid_vars)


def nested(values: dict[str, Any], paths: dict[str, Path]) -> dict:
    """Flat ``{label: value}`` to a nested config, using each label's path when known."""
    return unflatten_paths(
        {paths.get(label, tuple(label.split("/"))): value for label, value in values.items()}
    )


def point_params(point: dict, paths: dict[str, Path]) -> dict[str, Any]:
    """A nested preset as ``{label: value}``: by each known path, else "/"-flattened dicts.

    Labels whose path the point lacks are left out (the searcher decides if that is allowed).
    """
    if not paths:
        return flatten_dict(point)
    params = {}
    for label, path in paths.items():
        try:
            params[label] = get_value(point, path)
        except (KeyError, IndexError, TypeError):
            continue
    return params


def check_ready(searcher: Searcher, has_space: bool) -> None:
    """RuntimeError unless ``searcher`` has a space, a metric and a mode."""
    name = type(searcher).__name__
    if not has_space:
        raise RuntimeError(
            f"{name} has no search space: pass space=... to {name}(...) or search domains in "
            "tune.run(config=...)/param_space"
        )
    if not searcher.metric or not searcher.mode:
        raise RuntimeError(
            f"{name} has metric={searcher.metric!r}, mode={searcher.mode!r}; pass both to {name}(...) "
            "or to tune.run(metric=..., mode=...)"
        )


def metric_value(result: dict | None, metric: str) -> Any:
    """``result[metric]``, also for "a/b" nested metrics; None when missing."""
    return lookup(result, metric) if result else None


class SpaceSearcher(Searcher):
    """A searcher backed by a library: built without a space, it takes the experiment's.

    Subclasses define ``_set_space(config)`` (convert and keep it) and ``_setup()``
    (build the library's optimizer from it).
    """

    _space: Any = None

    def set_search_properties(self, metric: str | None, mode: str | None, config: dict, **spec: Any) -> bool:
        if self._space:
            return False
        if metric:
            self._metric = metric
        if mode:
            self._mode = validate_mode(mode, type(self).__name__)
        self._set_space(config)
        self._setup()
        return True

    def _set_space(self, config: dict) -> None:
        raise NotImplementedError

    def _setup(self) -> None:
        raise NotImplementedError
