"""``BayesOptSearch``: Gaussian-process optimisation with the ``bayes_opt`` package.

Float parameters only. The first ``random_search_steps`` results are held
back so those trials are sampled at random; later suggestions maximise the
acquisition function (``utility_kwargs``: kind "ucb", "ei" or "poi"). A config
suggested before is skipped (None) and, past ``patience`` repeats, ends the
search, as in Ray. Works with bayesian-optimization 1.x (``UtilityFunction``)
and 2.x/3.x (``bayes_opt.acquisition``).
"""

from __future__ import annotations

import logging
import math
from collections import Counter
from types import ModuleType
from typing import Any

from greenroom.tune.search._adapter import (
    SpaceSearcher,
    check_ready,
    import_optional,
    metric_value,
    nested,
    point_params,
    space_domains,
)
from greenroom.tune.search._paths import Path
from greenroom.tune.search.sample import Float, Quantized, Uniform
from greenroom.tune.search.searcher import DEFAULT_METRIC, Searcher

__all__ = ["BayesOptSearch"]

logger = logging.getLogger(__name__)

_DEFAULT_UTILITY = {"kind": "ucb", "kappa": 2.576, "xi": 0.0}


def _bayes_opt() -> ModuleType:
    return import_optional("bayes_opt", "bayesian-optimization", "BayesOptSearch")


class BayesOptSearch(SpaceSearcher):
    """Bayesian optimisation over float parameters.

    Args:
        space: ``{"x": tune.uniform(0, 1)}`` or bounds ``{"x": (0, 1)}``; None:
            take the param_space given to ``tune.run``.
        metric: result key to optimise.
        mode: "min" or "max".
        points_to_evaluate: configs to try first.
        utility_kwargs: ``{"kind": "ucb" | "ei" | "poi", "kappa": ..., "xi": ...}``.
        random_state: seed of the optimiser.
        random_search_steps: results held back so the first trials are random.
        verbose: bayes_opt's verbosity.
        patience: end the search once a config was suggested more than this often.
        skip_duplicate: return None instead of a config already suggested.
        analysis: not supported; must be None.

    Raises:
        ImportError: bayesian-optimization is not installed.
        ValueError: a non-float domain, an unknown utility kind, or a bad mode.
    """

    def __init__(
        self,
        space: dict | None = None,
        metric: str | None = None,
        mode: str | None = None,
        points_to_evaluate: list[dict] | None = None,
        utility_kwargs: dict | None = None,
        random_state: int = 42,
        random_search_steps: int = 10,
        verbose: int = 0,
        patience: int = 5,
        skip_duplicate: bool = True,
        analysis: Any = None,
    ) -> None:
        _bayes_opt()
        super().__init__(metric=metric, mode=mode)
        if analysis is not None:
            raise ValueError(
                "BayesOptSearch(analysis=...) is not supported; use add_evaluated_point() instead"
            )
        utility = {**_DEFAULT_UTILITY, **(utility_kwargs or {})}
        if utility["kind"] not in ("ucb", "ei", "poi"):
            raise ValueError(f"utility_kwargs kind must be 'ucb', 'ei' or 'poi', got {utility['kind']!r}")
        self._utility_kwargs = utility
        self._random_state = random_state
        self._random_search_steps = random_search_steps
        self._verbose = verbose
        self._patience = patience
        self._skip_duplicate = skip_duplicate
        self._points = [dict(p) for p in points_to_evaluate or []]
        self._space: dict[str, tuple[float, float]] | None = None
        self._paths: dict[str, Path] = {}
        self._optimizer: Any = None
        self._utility: Any = None  # bayes_opt 1.x only
        self._live: dict[str, dict[str, float]] = {}
        self._buffered: list[tuple[dict[str, float], float]] | None = []
        self._seen: Counter = Counter()
        if space:
            self._set_space(space)
            self._setup()

    def _set_space(self, space: dict) -> None:
        if all(isinstance(v, (tuple, list)) and len(v) == 2 for v in space.values()):
            self._space = {str(k): (float(v[0]), float(v[1])) for k, v in space.items()}
            self._paths = {}
        else:
            self._paths = {label: path for path, label, _ in space_domains(space, "BayesOptSearch")}
            self._space = self.convert_search_space(space)

    def _setup(self) -> None:
        bo = _bayes_opt()
        if self._metric is None and self._mode:
            self._metric = DEFAULT_METRIC
        kw = self._utility_kwargs
        acquisition = getattr(bo, "acquisition", None)
        if acquisition is not None:  # bayesian-optimization >= 2
            if kw["kind"] == "ucb":
                acq = acquisition.UpperConfidenceBound(kappa=kw["kappa"])
            elif kw["kind"] == "ei":
                acq = acquisition.ExpectedImprovement(xi=kw["xi"])
            else:
                acq = acquisition.ProbabilityOfImprovement(xi=kw["xi"])
            self._optimizer = bo.BayesianOptimization(
                f=None,
                pbounds=self._space,
                acquisition_function=acq,
                random_state=self._random_state,
                verbose=self._verbose,
                allow_duplicate_points=True,
            )
        else:  # bayesian-optimization 1.x
            self._utility = bo.UtilityFunction(**kw)
            self._optimizer = bo.BayesianOptimization(
                f=None, pbounds=self._space, random_state=self._random_state, verbose=self._verbose
            )


    def suggest(self, trial_id: str) -> dict | str | None:
        check_ready(self, bool(self._space))
        if self._points:
            params = point_params(self._points.pop(0), self._paths)
            missing = sorted(set(self._space) - set(params))
            if missing:
                raise ValueError(
                    f"points_to_evaluate entry has no value for {missing!r}; "
                    "BayesOptSearch needs every parameter of the space in each point"
                )
        elif self._utility is not None:
            params = self._optimizer.suggest(self._utility)
        else:
            params = self._optimizer.suggest()
        params = {k: float(v) for k, v in params.items()}
        key = tuple(sorted((k, round(v, 5)) for k, v in params.items()))
        seen_before = key in self._seen
        self._seen[key] += 1
        if self._patience is not None and max(self._seen.values()) > self._patience:
            return Searcher.FINISHED
        if seen_before and self._skip_duplicate:
            logger.info("BayesOptSearch: skipping a config suggested before: %s", params)
            return None
        self._live[trial_id] = params
        return nested(params, self._paths)

    def on_trial_complete(self, trial_id: str, result: dict | None = None, error: bool = False) -> None:
        params = self._live.pop(trial_id, None)
        value = metric_value(result, self._metric) if self._metric else None
        if params is None or error or value is None or (isinstance(value, float) and math.isnan(value)):
            return
        target = float(value) if self._mode == "max" else -float(value)  # bayes_opt maximises
        if self._buffered is None:
            self._register(params, target)
            return
        self._buffered.append((params, target))
        if len(self._buffered) >= self._random_search_steps:
            for buffered_params, buffered_target in self._buffered:
                self._register(buffered_params, buffered_target)
            self._buffered = None

    def _register(self, params: dict[str, float], target: float) -> None:
        try:
            self._optimizer.register(params=params, target=target)
        except (KeyError, ValueError) as exc:  # a duplicate point in bayes_opt 1.x
            logger.info("BayesOptSearch: not registering %s: %s", params, exc)

    def add_evaluated_point(
        self,
        parameters: dict,
        value: float,
        error: bool = False,
        pruned: bool = False,
        intermediate_values: list[float] | None = None,
    ) -> None:
        """Register a point evaluated elsewhere (errored points are ignored)."""
        if error or self._optimizer is None:
            return
        target = float(value) if self._mode == "max" else -float(value)
        self._register({k: float(v) for k, v in point_params(parameters, self._paths).items()}, target)

    @staticmethod
    def convert_search_space(spec: dict) -> dict[str, tuple[float, float]]:
        """greenroom Float domains to bayes_opt bounds ``{"a/b": (lower, upper)}``.

        Raises:
            ValueError: a domain that is not a bounded float (choice, randint, randn, ...).
        """
        bounds = {}
        for _, label, domain in space_domains(spec, "BayesOptSearch"):
            if not isinstance(domain, Float) or not (
                math.isfinite(domain.lower) and math.isfinite(domain.upper)
            ):
                raise ValueError(
                    f"BayesOptSearch supports only bounded float parameters (tune.uniform/loguniform/"
                    f"quniform), but {label!r} is {domain!r}; use OptunaSearch or HyperOptSearch for "
                    "integer, categorical or normal parameters"
                )
            sampler = domain.get_sampler()
            if isinstance(sampler, Quantized) or not isinstance(sampler, Uniform):
                logger.warning(
                    "BayesOptSearch samples %r uniformly; its %r sampler is dropped", label, sampler
                )
            bounds[label] = (float(domain.lower), float(domain.upper))
        return bounds
