"""The median stopping rule (Google Vizier), Ray's ``MedianStoppingRule``.

At time ``t`` (past the grace period) a trial is stopped when its best result
so far is worse than the median, over the other trials that have reached
``t``, of each one's running mean of results between the grace period and
``t``. With fewer than ``min_samples_required`` such trials the trial goes on,
or is paused to let waiting trials catch up.
"""

from __future__ import annotations

import math
import statistics

from greenroom.tune.experiment.trial import PAUSED, PENDING, Trial, lookup
from greenroom.tune.schedulers.trial_scheduler import (
    FIFOScheduler,
    TrialController,
    TrialScheduler,
    validate_mode,
)

_MISSING = object()


class MedianStoppingRule(FIFOScheduler):
    """Stops a trial whose best result is worse than the median of the others' running means.

    Args:
        time_attr: result key that measures progress; must increase monotonically.
        metric: result key to optimise (nested keys with '/'). Defaults to TuneConfig's.
        mode: "min" or "max". Defaults to TuneConfig's.
        grace_period: no trial is stopped before ``time_attr`` reaches this; results
            before it do not count towards running means.
        min_samples_required: how many other trials must have reached the same time.
        min_time_slice: with too few samples, a trial is paused (if others are waiting)
            at most once per this much ``time_attr``; 0 pauses it every time.
        hard_stop: STOP a failing trial; if False PAUSE it and let it run only when
            nothing else is waiting.
    Raises:
        ValueError: on an argument out of range.
    """

    def __init__(
        self,
        time_attr: str = "time_total_s",
        metric: str | None = None,
        mode: str | None = None,
        grace_period: float = 60.0,
        min_samples_required: int = 3,
        min_time_slice: float = 0,
        hard_stop: bool = True,
    ):
        if grace_period < 0:
            raise ValueError(f"`grace_period` must be >= 0, got {grace_period!r}.")
        if min_samples_required < 1:
            raise ValueError(f"`min_samples_required` must be >= 1, got {min_samples_required!r}.")
        if min_time_slice < 0:
            raise ValueError(f"`min_time_slice` must be >= 0, got {min_time_slice!r}.")
        validate_mode(mode)
        self._time_attr = time_attr
        self._metric = metric
        self._mode = mode
        self._grace_period = grace_period
        self._min_samples_required = min_samples_required
        self._min_time_slice = min_time_slice
        self._hard_stop = hard_stop
        self._stopped_trials: set[str] = set()
        self._last_pause: dict[str, float] = {}
        self._results: dict[str, list[tuple[float, float]]] = {}  # trial_id -> [(time, metric)]

    def on_trial_add(self, controller: TrialController, trial: Trial) -> None:
        self._check_metric_and_mode()

    def _observe(self, result: dict) -> tuple[float, float] | None:
        time = lookup(result, self._time_attr, _MISSING)
        value = lookup(result, self._metric, _MISSING)
        if time is _MISSING or value is _MISSING or value is None:
            return None
        return time, value

    def on_trial_result(self, controller: TrialController, trial: Trial, result: dict) -> str:
        """STOP (or PAUSE) a trial that is worse than the median; otherwise CONTINUE."""
        observed = self._observe(result)
        if observed is None:
            return TrialScheduler.CONTINUE
        if trial.trial_id in self._stopped_trials:
            return TrialScheduler.CONTINUE  # soft-stopped and resumed: nothing else was waiting
        time = observed[0]
        self._results.setdefault(trial.trial_id, []).append(observed)
        if time < self._grace_period:
            return TrialScheduler.CONTINUE

        others = [tid for tid, rs in self._results.items() if tid != trial.trial_id and rs[-1][0] >= time]
        if len(others) < self._min_samples_required:
            return self._on_insufficient_samples(controller, trial, time)

        means = [m for m in (self._running_mean(tid, time) for tid in others) if not math.isnan(m)]
        if not means:
            return TrialScheduler.CONTINUE
        median = statistics.median(means)
        best = self._best_result(trial.trial_id)
        worse = best < median if self._mode == "max" else best > median
        if not worse:
            return TrialScheduler.CONTINUE
        self._stopped_trials.add(trial.trial_id)
        return TrialScheduler.STOP if self._hard_stop else TrialScheduler.PAUSE

    def on_trial_complete(self, controller: TrialController, trial: Trial, result: dict) -> None:
        observed = self._observe(result or {})
        if observed is not None:
            self._results.setdefault(trial.trial_id, []).append(observed)

    def _on_insufficient_samples(self, controller: TrialController, trial: Trial, time: float) -> str:
        waiting = any(t.status in (PENDING, PAUSED) for t in controller.get_trials() if t is not trial)
        if waiting and time - self._last_pause.get(trial.trial_id, -math.inf) > self._min_time_slice:
            self._last_pause[trial.trial_id] = time
            return TrialScheduler.PAUSE
        return TrialScheduler.CONTINUE

    def _running_mean(self, trial_id: str, time: float) -> float:
        scoped = [v for t, v in self._results[trial_id] if self._grace_period <= t <= time]
        return statistics.fmean(scoped) if scoped else math.nan

    def _best_result(self, trial_id: str) -> float:
        values = [v for _, v in self._results[trial_id]]
        return max(values) if self._mode == "max" else min(values)

    def choose_trial_to_run(self, controller: TrialController) -> Trial | None:
        """FIFO, but soft-stopped trials (``hard_stop=False``) only when nothing else waits."""
        trials = controller.get_trials()
        for status in (PENDING, PAUSED):
            for trial in trials:
                if trial.status == status and trial.trial_id not in self._stopped_trials:
                    return trial
        return next((t for t in trials if t.status == PAUSED), None)

    def debug_string(self) -> str:
        return f"Using MedianStoppingRule: num_stopped={len(self._stopped_trials)}."
