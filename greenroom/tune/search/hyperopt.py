"""``HyperOptSearch``: HyperOpt's TPE behind the Searcher API.

As Ray does, this keeps a ``hyperopt.Trials`` and calls ``tpe.suggest``
directly for each new trial, writing results back into the trial documents
(loss = metric, negated for mode "max"). HyperOpt is imported when the
searcher is constructed.
"""

from __future__ import annotations

import copy
import importlib
import logging
import math
import random
from types import ModuleType
from typing import Any

from greenroom.tune.search._adapter import (
    SpaceSearcher,
    check_ready,
    has_domains,
    import_optional,
    metric_value,
    nested,
    point_params,
    space_domains,
)
from greenroom.tune.search._paths import Path
from greenroom.tune.search.sample import (
    Categorical,
    Domain,
    Float,
    Integer,
    LogUniform,
    Normal,
    Quantized,
    Uniform,
)
from greenroom.tune.search.searcher import DEFAULT_METRIC

__all__ = ["HyperOptSearch"]

logger = logging.getLogger(__name__)


def _hyperopt() -> ModuleType:
    return import_optional("hyperopt", "hyperopt", "HyperOptSearch")


class HyperOptSearch(SpaceSearcher):
    """Search with HyperOpt's Tree-structured Parzen Estimator.

    Args:
        space: greenroom domains, or a native HyperOpt space (a dict of ``hp.*``
            expressions). None: take the param_space given to ``tune.run``.
        metric: result key to optimise.
        mode: "min" or "max".
        points_to_evaluate: configs to try first (category values, not indices,
            for greenroom spaces; HyperOpt's index form for native spaces).
        n_initial_points: random trials before TPE takes over.
        random_state_seed: seed for reproducible suggestions.
        gamma: TPE's quantile splitting good and bad trials.

    Raises:
        ImportError: hyperopt is not installed.
        ValueError: a bad mode or an unconvertible domain.
    """

    def __init__(
        self,
        space: dict | None = None,
        metric: str | None = None,
        mode: str | None = None,
        points_to_evaluate: list[dict] | None = None,
        n_initial_points: int = 20,
        random_state_seed: int | None = None,
        gamma: float = 0.25,
    ) -> None:
        _hyperopt()
        super().__init__(metric=metric, mode=mode)
        self._n_initial_points = n_initial_points
        self._gamma = gamma
        self._rng = random.Random(random_state_seed)
        self._points = [copy.deepcopy(p) for p in points_to_evaluate or []]
        self._space: Any = None
        self._paths: dict[str, Path] = {}
        self._categories: dict[str, list] = {}
        self._trials: Any = None
        self._domain: Any = None
        self._live: dict[str, dict] = {}  # trial id -> hyperopt trial document
        if space:
            self._set_space(space)
            self._setup()

    def _set_space(self, space: dict) -> None:
        if has_domains(space):
            domains = space_domains(space, "HyperOptSearch")
            self._paths = {label: path for path, label, _ in domains}
            self._categories = {label: d.categories for _, label, d in domains if isinstance(d, Categorical)}
            space = self.convert_search_space(space)
        self._space = space

    def _setup(self) -> None:
        hpo = _hyperopt()
        if self._metric is None and self._mode:
            self._metric = DEFAULT_METRIC
        self._trials = hpo.Trials()
        self._domain = hpo.Domain(_identity, self._space)


    def _point_vals(self, point: dict) -> dict[str, Any]:
        """A preset as HyperOpt's assignment: label -> value, categories as indices."""
        flat = point_params(point, self._paths)
        vals: dict[str, Any] = {}
        for label in self._paths or flat:
            if label not in flat:
                raise ValueError(
                    f"points_to_evaluate entry {point!r} has no value for {label!r}; "
                    "HyperOptSearch needs every parameter of the space in each point"
                )
            value = flat[label]
            if label in self._categories:
                try:
                    value = self._categories[label].index(value)
                except ValueError:
                    raise ValueError(
                        f"points_to_evaluate value {value!r} for {label!r} is not one of "
                        f"{self._categories[label]!r}"
                    ) from None
            vals[label] = value
        return vals

    def suggest(self, trial_id: str) -> dict | None:
        check_ready(self, bool(self._space))
        hpo = _hyperopt()
        tid = self._trials.new_trial_ids(1)[0]
        if self._points:
            generate_trial = importlib.import_module("hyperopt.fmin").generate_trial
            doc = generate_trial(tid, self._point_vals(self._points.pop(0)))
        else:
            self._trials.refresh()
            algo = hpo.partial(hpo.tpe.suggest, n_startup_jobs=self._n_initial_points, gamma=self._gamma)
            doc = algo([tid], self._domain, self._trials, self._rng.randrange(2**31 - 1))[0]
        self._trials.insert_trial_docs([doc])
        self._trials.refresh()
        doc = next(t for t in self._trials.trials if t["tid"] == tid)  # the stored copy
        self._live[trial_id] = doc
        assignment = {label: vals[0] for label, vals in doc["misc"]["vals"].items() if vals}
        config = hpo.space_eval(self._space, assignment)
        return config

    def on_trial_result(self, trial_id: str, result: dict) -> None:
        doc = self._live.get(trial_id)
        value = metric_value(result, self._metric) if self._metric else None
        if doc is not None and value is not None:
            doc["result"] = {"loss": self._loss(value), "status": "ok"}
            doc["refresh_time"] = _hyperopt().utils.coarse_utcnow()

    def on_trial_complete(self, trial_id: str, result: dict | None = None, error: bool = False) -> None:
        doc = self._live.pop(trial_id, None)
        if doc is None:
            return
        hpo = _hyperopt()
        value = metric_value(result, self._metric) if self._metric else None
        doc["refresh_time"] = hpo.utils.coarse_utcnow()
        if error or value is None or (isinstance(value, float) and math.isnan(value)):
            if not error:
                logger.warning(
                    "HyperOptSearch: trial %s ended without metric %r; recorded as failed",
                    trial_id,
                    self._metric,
                )
            doc["state"] = hpo.base.JOB_STATE_ERROR
            doc["misc"]["error"] = ("TuneError", "trial failed or reported no metric")
        else:
            doc["state"] = hpo.base.JOB_STATE_DONE
            doc["result"] = {"loss": self._loss(value), "status": "ok"}
        self._trials.refresh()

    def _loss(self, value: float) -> float:
        return -float(value) if self._mode == "max" else float(value)

    @staticmethod
    def convert_search_space(spec: dict) -> dict:
        """greenroom domains to a nested dict of ``hp.*`` expressions labelled "a/b".

        Raises:
            ValueError: grid_search or sample_from in ``spec``.
        """
        return nested(
            {label: _to_hp(label, domain) for _, label, domain in space_domains(spec, "HyperOptSearch")},
            {label: path for path, label, _ in space_domains(spec, "HyperOptSearch")},
        )


def _identity(config: Any) -> Any:
    """HyperOpt's objective slot; never called here (module-level so the Domain pickles)."""
    return config


def _to_hp(label: str, domain: Domain) -> Any:
    hpo = _hyperopt()
    hp, scope = hpo.hp, hpo.pyll.scope
    sampler = domain.get_sampler()
    q = None
    if isinstance(sampler, Quantized):
        q, sampler = sampler.q, sampler.get_sampler()
    if isinstance(domain, Float):
        if isinstance(sampler, LogUniform):
            low, high = math.log(domain.lower), math.log(domain.upper)
            return hp.qloguniform(label, low, high, q) if q else hp.loguniform(label, low, high)
        if isinstance(sampler, Uniform):
            return (
                hp.quniform(label, domain.lower, domain.upper, q)
                if q
                else hp.uniform(label, domain.lower, domain.upper)
            )
        if isinstance(sampler, Normal):
            if q:
                return hp.qnormal(label, sampler.mean, sampler.sd, q)
            return hp.normal(label, sampler.mean, sampler.sd)
    elif isinstance(domain, Integer):
        if isinstance(sampler, LogUniform):
            if q:
                return scope.int(hp.qloguniform(label, math.log(domain.lower), math.log(domain.upper), q))
            return scope.int(hp.qloguniform(label, math.log(domain.lower), math.log(domain.upper - 1), 1.0))
        if isinstance(sampler, Uniform):
            if q:
                low, high = math.ceil(domain.lower / q) * q, math.floor(domain.upper / q) * q
                return scope.int(hp.quniform(label, low, high, q))
            return hp.uniformint(label, domain.lower, domain.upper - 1)
    elif isinstance(domain, Categorical) and isinstance(sampler, Uniform):
        return hp.choice(label, list(domain.categories))
    raise ValueError(
        f"HyperOptSearch cannot convert {label!r}: {domain!r}; it supports uniform, quniform, "
        "loguniform, qloguniform, randn, qrandn, randint, qrandint, lograndint, qlograndint and choice"
    )
