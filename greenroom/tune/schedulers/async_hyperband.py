"""Asynchronous successive halving (ASHA), Ray's ``AsyncHyperBandScheduler``.

Each bracket has rungs at ``grace_period * reduction_factor**(k + s)``. The
first result of a trial at or past a rung is compared with the values recorded
there: below the ``1 - 1/reduction_factor`` quantile (the trial is not in the
top ``1/reduction_factor``) it is stopped; either way its value is recorded.
Values are stored multiplied by +1 (max) or -1 (min) so bigger is better.
No trial ever waits for another: decisions use what has been recorded so far.
"""

from __future__ import annotations

import math
import random

from greenroom.tune.experiment.trial import Trial, lookup
from greenroom.tune.schedulers.trial_scheduler import (
    FIFOScheduler,
    TrialController,
    TrialScheduler,
    validate_mode,
)

_MISSING = object()


def percentile(values: list[float], q: float) -> float | None:
    """The q-th percentile (0..100) with linear interpolation, NaNs ignored (numpy's nanpercentile)."""
    ordered = sorted(v for v in values if not math.isnan(v))
    if not ordered:
        return None
    pos = q / 100 * (len(ordered) - 1)
    low = math.floor(pos)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (pos - low)


class _Bracket:
    """The rungs of one ASHA bracket: milestone -> {trial_id: recorded value}."""

    def __init__(self, min_t: float, max_t: float, reduction_factor: float, s: int, stop_last_trials: bool):
        self.rf = reduction_factor
        # Ray's count, with a little slack so max_t=1000, rf=10 gives the rung at 1000.
        num_rungs = int(math.log(max_t / min_t) / math.log(reduction_factor) + 1e-9) - s + 1
        self.rungs: list[tuple[float, dict[str, float]]] = [
            (min_t * reduction_factor ** (k + s), {}) for k in reversed(range(max(num_rungs, 0)))
        ]
        self._stop_last_trials = stop_last_trials

    def cutoff(self, recorded: dict[str, float]) -> float | None:
        """The value a trial must reach to stay in the top 1/rf of ``recorded``."""
        return percentile(list(recorded.values()), (1 - 1 / self.rf) * 100)

    def on_result(self, trial_id: str, cur_iter: float, cur_rew: float) -> str:
        """Record the trial at the highest rung it newly reached; STOP it if below the cutoff."""
        action = TrialScheduler.CONTINUE
        for milestone, recorded in self.rungs:  # highest rung first
            if cur_iter >= milestone and trial_id in recorded and not self._stop_last_trials:
                break  # already judged at the highest rung it reached
            if cur_iter < milestone or trial_id in recorded:
                continue
            cutoff = self.cutoff(recorded)
            if cutoff is not None and cur_rew < cutoff:
                action = TrialScheduler.STOP
            if cur_rew is not None and not math.isnan(cur_rew):
                recorded[trial_id] = cur_rew
            break
        return action

    def debug_str(self) -> str:
        rungs = " | ".join(f"Iter {m:.3f}: {self.cutoff(rec)}" for m, rec in self.rungs)
        return f"Bracket: {rungs}"


class AsyncHyperBandScheduler(FIFOScheduler):
    """Asynchronous successive halving: stops trials that fall behind at each rung.

    Args:
        time_attr: result key that measures progress; must increase monotonically.
        metric: result key to optimise (nested keys with '/'). Defaults to TuneConfig's.
        mode: "min" or "max". Defaults to TuneConfig's.
        max_t: trials are stopped once ``time_attr`` reaches this.
        grace_period: no trial is stopped before ``time_attr`` reaches this.
        reduction_factor: rung spacing, and the fraction (1/rf) of trials kept at each rung.
        brackets: number of brackets; a new trial joins one at random (softmax on rung count).
        stop_last_trials: stop trials at ``max_t``; if False they run on.
    Raises:
        ValueError: on an argument out of range.
    """

    def __init__(
        self,
        time_attr: str = "training_iteration",
        metric: str | None = None,
        mode: str | None = None,
        max_t: float = 100,
        grace_period: float = 1,
        reduction_factor: float = 4,
        brackets: int = 1,
        stop_last_trials: bool = True,
    ):
        if not grace_period > 0:
            raise ValueError(f"`grace_period` must be > 0, got {grace_period!r}.")
        if not max_t >= grace_period:
            raise ValueError(f"`max_t` ({max_t!r}) must be >= `grace_period` ({grace_period!r}).")
        if not reduction_factor > 1:
            raise ValueError(f"`reduction_factor` must be > 1, got {reduction_factor!r}.")
        if not brackets >= 1:
            raise ValueError(f"`brackets` must be >= 1, got {brackets!r}.")
        validate_mode(mode)
        self._time_attr = time_attr
        self._metric = metric
        self._mode = mode
        self._max_t = max_t
        self._reduction_factor = reduction_factor
        self._stop_last_trials = stop_last_trials
        self._brackets = [
            _Bracket(grace_period, max_t, reduction_factor, s, stop_last_trials) for s in range(brackets)
        ]
        self._trial_info: dict[str, _Bracket] = {}
        self._num_stopped = 0

    def on_trial_add(self, controller: TrialController, trial: Trial) -> None:
        self._check_metric_and_mode()
        sizes = [len(b.rungs) for b in self._brackets]
        weights = [math.exp(n - max(sizes)) for n in sizes]
        self._trial_info[trial.trial_id] = random.choices(self._brackets, weights=weights)[0]

    def _time_and_reward(self, result: dict) -> tuple[float, float] | None:
        time = lookup(result, self._time_attr, _MISSING)
        value = lookup(result, self._metric, _MISSING)
        if time is _MISSING or value is _MISSING or value is None:
            return None
        return time, self._metric_op * value

    def on_trial_result(self, controller: TrialController, trial: Trial, result: dict) -> str:
        observed = self._time_and_reward(result)
        if observed is None:
            return TrialScheduler.CONTINUE
        time, reward = observed
        if time >= self._max_t and self._stop_last_trials:
            action = TrialScheduler.STOP
        else:
            action = self._bracket_of(trial).on_result(trial.trial_id, time, reward)
        if action == TrialScheduler.STOP:
            self._num_stopped += 1
        return action

    def on_trial_complete(self, controller: TrialController, trial: Trial, result: dict) -> None:
        bracket = self._trial_info.pop(trial.trial_id, None)
        observed = self._time_and_reward(result or {})
        if bracket is not None and observed is not None:
            bracket.on_result(trial.trial_id, *observed)

    def on_trial_remove(self, controller: TrialController, trial: Trial) -> None:
        self._trial_info.pop(trial.trial_id, None)

    def _bracket_of(self, trial: Trial) -> _Bracket:
        try:
            return self._trial_info[trial.trial_id]
        except KeyError:
            raise ValueError(
                f"{type(self).__name__} got a result for trial {trial.trial_id!r} it does not know: "
                "call on_trial_add before its first result."
            ) from None

    def debug_string(self) -> str:
        out = f"Using AsyncHyperBand: num_stopped={self._num_stopped}"
        return out + "\n" + "\n".join(b.debug_str() for b in self._brackets)


ASHAScheduler = AsyncHyperBandScheduler
