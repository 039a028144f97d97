"""Population Based Training, Ray's ``PopulationBasedTraining``.

Every ``perturbation_interval`` of ``time_attr`` (after ``burn_in_period``) a
trial's score is ranked against the live population. A trial in the bottom
``quantile_fraction`` *exploits* a random top-quantile trial that has a
checkpoint: the scheduler computes an *explored* copy of that trial's config
and calls ``controller.request_exploit(trial, source, new_config)``; the runner
restarts the trial from the source's checkpoint with it. The scheduler only
decides and keeps its own bookkeeping (scores, perturbation times).

Mutation specs (``hyperparam_mutations`` values) are lists/tuples
(categorical), dicts (nested specs), objects with ``.sample()`` (greenroom
search domains) or zero-argument callables.
"""

from __future__ import annotations

import copy
import math
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from greenroom.tune.experiment.trial import ERROR, PAUSED, PENDING, TERMINATED, Trial, lookup
from greenroom.tune.schedulers.trial_scheduler import (
    FIFOScheduler,
    TrialController,
    TrialScheduler,
    validate_mode,
)

_MISSING = object()


def _is_domain(spec: object) -> bool:
    return callable(getattr(spec, "sample", None))


def _sample(spec: object) -> object:
    """One value from a mutation spec that is a list, a domain or a callable."""
    if _is_domain(spec):
        return spec.sample()
    if isinstance(spec, (list, tuple)):
        return random.choice(spec)
    return spec()


def _validate_mutations(mutations: dict, path: str = "") -> None:
    for key, spec in mutations.items():
        where = f"hyperparam_mutations[{path}{key!r}]"
        if isinstance(spec, dict):
            _validate_mutations(spec, f"{path}{key!r}][")
        elif type(spec).__name__ == "Function" and _is_domain(spec):
            raise ValueError(
                f"{where} is a tune.sample_from(...), which PBT cannot resample. "
                "Use tune.uniform, tune.choice, ..., a list, or a zero-argument function."
            )
        elif isinstance(spec, (list, tuple)):
            if not spec:
                raise ValueError(f"{where} is an empty list: give at least one value.")
        elif not (_is_domain(spec) or callable(spec)):
            raise TypeError(
                f"{where} is {spec!r}; it must be a list, tuple, dict, search domain (tune.uniform, ...) "
                "or a zero-argument function."
            )


def fill_config(config: dict, key: str, spec: object) -> None:
    """Set ``config[key]`` to a sample of ``spec`` (dict specs filled key by key)."""
    if isinstance(spec, dict):
        config[key] = {}
        for k, v in spec.items():
            fill_config(config[key], k, v)
    else:
        config[key] = _sample(spec)


def explore(
    config: dict,
    mutations: dict,
    resample_probability: float,
    perturbation_factors: Sequence[float],
    custom_explore_fn: Callable[[dict], dict] | None,
) -> tuple[dict, dict]:
    """A perturbed deep copy of ``config``, and what was done to each key.

    For each mutated key: with probability ``resample_probability`` (always, for
    a categorical value not in its list) a fresh sample; otherwise a numeric
    value is multiplied by a random perturbation factor (kept int if it was
    int), and a categorical value moves one place left or right in its list.
    """
    new_config = copy.deepcopy(config)
    operations: dict = {}
    for key, spec in mutations.items():
        if key not in config:
            raise ValueError(
                f"PBT: config has no {key!r} to mutate (keys: {sorted(config)}); put it in the "
                "param_space, or let the scheduler sample it when the trial is added."
            )
        if isinstance(spec, dict):
            new_config[key], operations[key] = explore(
                config[key], spec, resample_probability, perturbation_factors, None
            )
        elif isinstance(spec, (list, tuple)):
            if random.random() < resample_probability or config[key] not in spec:
                new_config[key] = random.choice(spec)
                operations[key] = "resample"
            else:
                shift = random.choice([-1, 1])
                old_idx = list(spec).index(config[key])
                new_idx = min(max(old_idx + shift, 0), len(spec) - 1)
                new_config[key] = spec[new_idx]
                noop = " (noop)" if old_idx == new_idx else ""
                operations[key] = f"shift {'left' if shift == -1 else 'right'}{noop}"
        else:
            if random.random() < resample_probability:
                new_config[key] = _sample(spec)
                operations[key] = "resample"
            else:
                factor = random.choice(perturbation_factors)
                new_config[key] = config[key] * factor
                operations[key] = f"* {factor}"
            if isinstance(config[key], int):
                new_config[key] = int(new_config[key])
    if custom_explore_fn is not None:
        new_config = custom_explore_fn(new_config)
        if not isinstance(new_config, dict):
            raise TypeError(
                f"PBT: custom_explore_fn returned {new_config!r}; it must return the (changed) config dict."
            )
    return new_config, operations


@dataclass
class _TrialState:
    """What PBT remembers of one trial."""

    orig_tag: str
    last_score: float | None = None  # metric * (+1 max / -1 min): bigger is better
    last_perturbation_time: float = 0
    last_train_time: float = 0
    last_result: dict = field(default_factory=dict)
    finished: bool = False


class PopulationBasedTraining(FIFOScheduler):
    """Population Based Training: the worst trials restart from the best ones, perturbed.

    Args:
        time_attr: result key that measures progress; must increase monotonically.
        metric: result key to optimise (nested keys with '/'). Defaults to TuneConfig's.
        mode: "min" or "max". Defaults to TuneConfig's.
        perturbation_interval: how much ``time_attr`` between two exploits of one trial.
        burn_in_period: no exploit before ``time_attr`` reaches this.
        hyperparam_mutations: key -> list, dict, search domain or function (see module doc).
        quantile_fraction: the bottom and top fractions of the population (0 to 0.5).
        resample_probability: chance of a fresh sample instead of a perturbation.
        perturbation_factors: factors a numeric value is multiplied by.
        custom_explore_fn: ``f(config) -> config``, applied after the mutations.
        log_config: keep a record of each exploit in ``exploit_log``.
        require_attrs: raise if a result lacks ``time_attr`` or ``metric``; if False skip it.
        synch: wait for every trial to reach the boundary, then exploit all at once.
    Raises:
        ValueError, TypeError: on an argument out of range or of the wrong type.
    """

    _supports_buffered_results = False

    def __init__(
        self,
        time_attr: str = "time_total_s",
        metric: str | None = None,
        mode: str | None = None,
        perturbation_interval: float = 60.0,
        burn_in_period: float = 0.0,
        hyperparam_mutations: dict | None = None,
        quantile_fraction: float = 0.25,
        resample_probability: float = 0.25,
        perturbation_factors: tuple[float, float] = (1.2, 0.8),
        custom_explore_fn: Callable[[dict], dict] | None = None,
        log_config: bool = True,
        require_attrs: bool = True,
        synch: bool = False,
    ):
        hyperparam_mutations = hyperparam_mutations or {}
        _validate_mutations(hyperparam_mutations)
        if not hyperparam_mutations and custom_explore_fn is None:
            raise ValueError(
                "PopulationBasedTraining needs `hyperparam_mutations` or `custom_explore_fn` "
                "(or both) to know how to change a config."
            )
        if not 0 <= quantile_fraction <= 0.5:
            raise ValueError(f"`quantile_fraction` must be between 0 and 0.5, got {quantile_fraction!r}.")
        if not perturbation_interval > 0:
            raise ValueError(f"`perturbation_interval` must be > 0, got {perturbation_interval!r}.")
        if not 0 <= resample_probability <= 1:
            raise ValueError(f"`resample_probability` must be between 0 and 1, got {resample_probability!r}.")
        if not perturbation_factors:
            raise ValueError("`perturbation_factors` must hold at least one factor, e.g. (1.2, 0.8).")
        validate_mode(mode)
        self._time_attr = time_attr
        self._metric = metric
        self._mode = mode
        self._perturbation_interval = perturbation_interval
        self._burn_in_period = burn_in_period
        self._hyperparam_mutations = hyperparam_mutations
        self._quantile_fraction = quantile_fraction
        self._resample_probability = resample_probability
        self._perturbation_factors = tuple(perturbation_factors)
        self._custom_explore_fn = custom_explore_fn
        self._log_config = log_config
        self._require_attrs = require_attrs
        self._synch = synch
        self._trial_state: dict[str, _TrialState] = {}
        self._trials: dict[str, Trial] = {}
        self._next_perturbation_sync = max(perturbation_interval, burn_in_period)
        self._num_perturbations = 0
        self.exploit_log: list[dict] = []  # one entry per exploit when log_config

    def on_trial_add(self, controller: TrialController, trial: Trial) -> None:
        """Track the trial; sample any mutated key missing from its config (as Ray does)."""
        self._check_metric_and_mode()
        self._trial_state[trial.trial_id] = _TrialState(orig_tag=trial.experiment_tag)
        self._trials[trial.trial_id] = trial
        for key, spec in self._hyperparam_mutations.items():
            if key not in trial.config:
                fill_config(trial.config, key, spec)
                trial.evaluated_params[key] = trial.config[key]

    def _state(self, trial: Trial) -> _TrialState:
        try:
            return self._trial_state[trial.trial_id]
        except KeyError:
            raise ValueError(
                f"PopulationBasedTraining got a result for trial {trial.trial_id!r} it does not know: "
                "call on_trial_add before its first result."
            ) from None

    def on_trial_result(self, controller: TrialController, trial: Trial, result: dict) -> str:
        """CONTINUE between boundaries; at one, exploit (NOOP) or CONTINUE / PAUSE."""
        time = lookup(result, self._time_attr, _MISSING)
        value = lookup(result, self._metric, _MISSING)
        for name, got in ((self._time_attr, time), (self._metric, value)):
            if got is _MISSING and self._require_attrs:
                raise RuntimeError(
                    f"PopulationBasedTraining: trial {trial.trial_id!r} reported no {name!r} "
                    f"(keys: {sorted(result)}). Report it from the trainable, or pass "
                    "require_attrs=False to skip such results."
                )
        if time is _MISSING or value is _MISSING or value is None:
            return TrialScheduler.CONTINUE

        state = self._state(trial)
        if time < self._burn_in_period or time - state.last_perturbation_time < self._perturbation_interval:
            return TrialScheduler.CONTINUE
        state.last_score = self._metric_op * value
        state.last_train_time = time
        state.last_result = result

        if not self._synch:
            state.last_perturbation_time = time
            lower, upper = self._quantiles()
            others_waiting = any(
                t.status in (PENDING, PAUSED) for t in controller.get_trials() if t is not trial
            )
            if self._maybe_exploit(controller, trial, lower, upper):
                return TrialScheduler.NOOP
            # Pause to share the resources with waiting trials; choose_trial_to_run
            # then runs whoever is least far along.
            return TrialScheduler.PAUSE if others_waiting else TrialScheduler.CONTINUE

        behind = [
            tid
            for tid, s in self._trial_state.items()
            if s.last_train_time < self._next_perturbation_sync and not self._finished(tid)
        ]
        if any(tid != trial.trial_id for tid in behind):
            return TrialScheduler.PAUSE  # wait for the rest of the population
        lower, upper = self._quantiles()
        # Bottom trials last, so they take over the sources' new perturbation time.
        live = [self._trials[tid] for tid in self._trial_state if not self._finished(tid)]
        exploited = False
        for t in sorted(live, key=lambda t: t in lower):
            self._trial_state[t.trial_id].last_perturbation_time = time
            done = self._maybe_exploit(controller, t, lower, upper)
            exploited = exploited or (done and t is trial)
        train_times = [s.last_train_time for s in self._trial_state.values()]
        self._next_perturbation_sync = max(
            self._next_perturbation_sync + self._perturbation_interval, max(train_times)
        )
        return TrialScheduler.NOOP if exploited else TrialScheduler.PAUSE

    def _finished(self, trial_id: str) -> bool:
        return self._trial_state[trial_id].finished or self._trials[trial_id].status in (TERMINATED, ERROR)

    def _quantiles(self) -> tuple[list[Trial], list[Trial]]:
        """(bottom, top) trials by last score among live scored trials; empty if fewer than two."""
        scored = [
            self._trials[tid]
            for tid, s in self._trial_state.items()
            if s.last_score is not None and not self._finished(tid)
        ]
        scored.sort(key=lambda t: self._trial_state[t.trial_id].last_score)
        if len(scored) <= 1:
            return [], []
        size = min(math.ceil(len(scored) * self._quantile_fraction), len(scored) // 2)
        if size == 0:
            return [], []
        return scored[:size], scored[-size:]

    def _maybe_exploit(self, controller: TrialController, trial: Trial, lower: list, upper: list) -> bool:
        """If ``trial`` is in ``lower``, request an exploit of a top trial with a checkpoint."""
        if trial not in lower:
            return False
        sources = [t for t in upper if t.checkpoint is not None and t is not trial]
        if not sources:
            return False  # no top trial has saved yet: try again at the next boundary
        source = random.choice(sources)
        new_config, operations = explore(
            source.config,
            self._hyperparam_mutations,
            self._resample_probability,
            self._perturbation_factors,
            self._custom_explore_fn,
        )
        state, source_state = self._trial_state[trial.trial_id], self._trial_state[source.trial_id]
        if self._log_config:
            self.exploit_log.append(
                {
                    "trial_id": trial.trial_id,
                    "source_trial_id": source.trial_id,
                    "trial_step": state.last_train_time,
                    "source_step": source_state.last_train_time,
                    "old_config": copy.deepcopy(trial.config),
                    "new_config": copy.deepcopy(new_config),
                    "operations": operations,
                }
            )
        controller.request_exploit(trial, source, new_config)
        self._num_perturbations += 1
        # The trial continues from the source's point in time.
        state.last_perturbation_time = source_state.last_perturbation_time
        state.last_train_time = source_state.last_train_time
        return True

    def on_trial_complete(self, controller: TrialController, trial: Trial, result: dict) -> None:
        if trial.trial_id in self._trial_state:
            self._trial_state[trial.trial_id].finished = True

    def on_trial_error(self, controller: TrialController, trial: Trial) -> None:
        self.on_trial_complete(controller, trial, {})

    def on_trial_remove(self, controller: TrialController, trial: Trial) -> None:
        self.on_trial_complete(controller, trial, {})

    def choose_trial_to_run(self, controller: TrialController) -> Trial | None:
        """The waiting trial least far along in ``time_attr`` (synch: only those behind the boundary)."""
        candidates = []
        for trial in controller.get_trials():
            state = self._trial_state.get(trial.trial_id)
            if trial.status not in (PENDING, PAUSED) or state is None:
                continue
            if not self._synch or state.last_train_time < self._next_perturbation_sync:
                candidates.append(trial)
        return min(candidates, key=lambda t: self._trial_state[t.trial_id].last_train_time, default=None)

    def debug_string(self) -> str:
        return f"PopulationBasedTraining: {self._num_perturbations} perturbs"
