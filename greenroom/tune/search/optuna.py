"""``OptunaSearch``: Optuna's samplers (TPE by default) behind the Searcher API.

Uses Optuna's ask-and-tell interface: ``suggest`` asks the study for a trial
with the converted distributions, ``on_trial_complete`` tells it the final
metric (errored trials as FAIL, trials that ended without the metric as
PRUNED, as Ray). Optuna is imported when the searcher is constructed.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
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
from greenroom.tune.search.sample import Categorical, Domain, Float, Integer, LogUniform, Quantized, Uniform
from greenroom.tune.search.searcher import DEFAULT_METRIC

__all__ = ["OptunaSearch"]

logger = logging.getLogger(__name__)


def _optuna() -> ModuleType:
    return import_optional("optuna", "optuna", "OptunaSearch")


class OptunaSearch(SpaceSearcher):
    """Search with an Optuna sampler (``TPESampler(seed=seed)`` unless ``sampler`` is given).

    Args:
        space: greenroom domains (``{"lr": tune.loguniform(1e-4, 1e-1)}``), a flat
            dict of Optuna distributions, or a define-by-run function
            ``space(optuna_trial) -> dict | None`` (returned dict: constants).
            None: take the param_space given to ``tune.run``.
        metric: result key to optimise.
        mode: "min" or "max".
        points_to_evaluate: configs to try first.
        sampler: an ``optuna.samplers.BaseSampler``.
        seed: seed for the default TPE sampler.
        evaluated_rewards: metric values already known for ``points_to_evaluate``;
            those points are then recorded instead of run.

    Raises:
        ImportError: optuna is not installed.
        ValueError: a bad mode, an unconvertible domain, or mismatched rewards.
    """

    def __init__(
        self,
        space: dict | Callable[[Any], dict | None] | None = None,
        metric: str | None = None,
        mode: str | None = None,
        points_to_evaluate: list[dict] | None = None,
        sampler: Any = None,
        seed: int | None = None,
        evaluated_rewards: list[float] | None = None,
    ) -> None:
        _optuna()
        super().__init__(metric=metric, mode=mode)
        if evaluated_rewards is not None and len(evaluated_rewards) != len(points_to_evaluate or []):
            raise ValueError(
                f"evaluated_rewards has {len(evaluated_rewards)} values for "
                f"{len(points_to_evaluate or [])} points_to_evaluate; give one reward per point"
            )
        if sampler is not None and seed is not None:
            logger.warning("OptunaSearch ignores seed=%r because a sampler was given; seed the sampler", seed)
        self._paths: dict[str, Path] = {}
        self._space: dict | Callable | None = None
        self._points = [dict(p) for p in points_to_evaluate or []]
        self._evaluated_rewards = evaluated_rewards
        self._sampler = sampler
        self._seed = seed
        self._study: Any = None
        self._ot_trials: dict[str, Any] = {}
        if space:
            self._set_space(space)
            self._setup_study(mode)

    def _set_space(self, space: dict | Callable) -> None:
        if isinstance(space, dict) and has_domains(space):
            self._paths = {label: path for path, label, _ in space_domains(space, "OptunaSearch")}
            space = self.convert_search_space(space)
        elif not (callable(space) or isinstance(space, dict)):
            raise TypeError(f"OptunaSearch space must be a dict or a define-by-run function, got {space!r}")
        self._space = space

    def _setup_study(self, mode: str | None) -> None:
        ot = _optuna()
        if self._metric is None and self._mode:
            self._metric = DEFAULT_METRIC
        sampler = self._sampler if self._sampler is not None else ot.samplers.TPESampler(seed=self._seed)
        direction = "maximize" if mode == "max" else "minimize"
        self._study = ot.create_study(sampler=sampler, study_name="optuna", direction=direction)
        if self._evaluated_rewards is not None:
            for point, reward in zip(self._points, self._evaluated_rewards):
                self.add_evaluated_point(point, reward)
        else:
            for point in self._points:
                self._study.enqueue_trial(point_params(point, self._paths))

    def _setup(self) -> None:
        self._setup_study(self._mode)

    def suggest(self, trial_id: str) -> dict | None:
        check_ready(self, bool(self._space))
        if trial_id in self._ot_trials:
            ot_trial = self._ot_trials[trial_id]
            return nested(dict(ot_trial.params), self._paths)
        if callable(self._space):
            ot_trial = self._study.ask()
            constants = self._space(ot_trial) or {}  # fills ot_trial.params as it suggests
            params = {**ot_trial.params, **constants}
        else:
            ot_trial = self._study.ask(fixed_distributions=self._space)
            params = dict(ot_trial.params)
        self._ot_trials[trial_id] = ot_trial
        return nested(params, self._paths)

    def on_trial_result(self, trial_id: str, result: dict) -> None:
        ot_trial = self._ot_trials.get(trial_id)
        value = metric_value(result, self._metric) if self._metric else None
        step = result.get("training_iteration")
        if ot_trial is None or value is None or step is None:
            return
        ot_trial.report(float(value), int(step))

    def on_trial_complete(self, trial_id: str, result: dict | None = None, error: bool = False) -> None:
        ot_trial = self._ot_trials.pop(trial_id, None)
        if ot_trial is None:
            return
        state = _optuna().trial.TrialState
        value = metric_value(result, self._metric) if self._metric else None
        if error:
            self._study.tell(ot_trial, state=state.FAIL)
        elif value is None or (isinstance(value, float) and math.isnan(value)):
            self._study.tell(ot_trial, state=state.PRUNED)
        else:
            self._study.tell(ot_trial, float(value))

    def add_evaluated_point(
        self,
        parameters: dict,
        value: float,
        error: bool = False,
        pruned: bool = False,
        intermediate_values: list[float] | None = None,
    ) -> None:
        """Record a point evaluated elsewhere as a finished Optuna trial.

        Raises:
            RuntimeError: the space is not a dict of distributions (define-by-run or unset).
        """
        if self._space is None or callable(self._space):
            raise RuntimeError(
                "OptunaSearch.add_evaluated_point needs a dict search space; pass space=... first"
            )
        ot = _optuna()
        state = ot.trial.TrialState
        params = point_params(parameters, self._paths)
        trial = ot.trial.create_trial(
            params=params,
            distributions={k: self._space[k] for k in params},
            value=None if error else value,
            state=state.FAIL if error else state.PRUNED if pruned else state.COMPLETE,
            intermediate_values=dict(enumerate(intermediate_values)) if intermediate_values else None,
        )
        self._study.add_trial(trial)

    @staticmethod
    def convert_search_space(spec: dict) -> dict[str, Any]:
        """greenroom domains to ``{"a/b": optuna distribution}``.

        Raises:
            ValueError: grid_search, randn/qrandn or sample_from in ``spec``.
        """
        return {
            label: _to_distribution(label, domain) for _, label, domain in space_domains(spec, "OptunaSearch")
        }


def _to_distribution(label: str, domain: Domain) -> Any:
    dist = _optuna().distributions
    sampler = domain.get_sampler()
    q = None
    if isinstance(sampler, Quantized):
        q, sampler = sampler.q, sampler.get_sampler()
    if isinstance(domain, Float):
        if isinstance(sampler, LogUniform):
            if q:
                logger.warning("Optuna cannot quantize log-uniform %r; q=%r is dropped", label, q)
            return dist.FloatDistribution(domain.lower, domain.upper, log=True)
        if isinstance(sampler, Uniform):
            return dist.FloatDistribution(domain.lower, domain.upper, step=q)
    elif isinstance(domain, Integer):
        if isinstance(sampler, LogUniform):
            if q:
                logger.warning("Optuna cannot quantize log-uniform %r; q=%r is dropped", label, q)
                return dist.IntDistribution(domain.lower, domain.upper, log=True)
            return dist.IntDistribution(domain.lower, domain.upper - 1, log=True)
        if isinstance(sampler, Uniform):
            if q:
                q = int(q)
                low, high = math.ceil(domain.lower / q) * q, math.floor(domain.upper / q) * q
                return dist.IntDistribution(low, high, step=q)
            return dist.IntDistribution(domain.lower, domain.upper - 1)
    elif isinstance(domain, Categorical) and isinstance(sampler, Uniform):
        return dist.CategoricalDistribution(domain.categories)
    raise ValueError(
        f"OptunaSearch cannot convert {label!r}: {domain!r}; it supports uniform, quniform, loguniform, "
        "randint, qrandint, lograndint and choice (not randn, qrandn or sample_from)"
    )
