"""Synchronous HyperBand, Ray's ``HyperBandScheduler``.

Trials fill brackets in order; brackets make up a band of ``s_max + 1``
brackets (s = 0 .. s_max), then a new band starts. Bracket ``s`` takes up to
``n0(s) = ceil((s_max+1)/(s+1) * eta**s)`` trials and runs them to the
milestone ``r0(s) = int(max_t * eta**-s)``. A trial reaching the milestone is
PAUSED; when every live trial of the bracket has reached it, the bracket
halves: the best ``ceil(n/eta)`` go on to the milestone ``* eta`` (paused ones
are resumed through ``choose_trial_to_run``), the rest are stopped (paused ones
through ``pop_trials_to_stop``). After ``s`` halvings a trial that reaches the
last milestone is stopped (unless ``stop_last_trials=False``).

Simplifications against Ray 2.x, all visible only in edge cases:
- milestones are ``min(r0 * eta**k, max_t)``; Ray caps the last one at
  ``max_t - previous milestone`` (e.g. 54 instead of 81 for max_t=81).
- a trial reaching its bracket's last milestone is stopped at once, where Ray
  pauses it until the rest of the bracket gets there and then stops it.
- a bracket takes new trials only until it is full or first halves.
- "is a trial waiting to be resumed" is derived (live, PAUSED, below the
  current milestone), not stored; the scheduler never changes Trial.status.
"""

from __future__ import annotations

import collections
import math

from greenroom.tune.experiment.trial import PAUSED, PENDING, Trial, lookup
from greenroom.tune.schedulers.trial_scheduler import (
    FIFOScheduler,
    TrialController,
    TrialScheduler,
    validate_mode,
)

_MISSING = object()


class _Bracket:
    """Live trials of one bracket, their latest results, and the current milestone."""

    def __init__(self, time_attr: str, n0: int, r0: int, max_t: float, eta: float, s: int, stop_last: bool):
        self._time_attr = time_attr
        self.n0 = self.n = n0
        self.milestone: float = r0
        self.max_t = max_t
        self.eta = eta
        self.halves = self._initial_halves = s
        self.stop_last = stop_last
        self.live: dict[str, Trial] = {}
        self.results: dict[str, dict | None] = {}
        self.all_trials: list[Trial] = []
        self.progress = 0.0
        self.total_work = self._total_work(n0, r0, s)

    def _total_work(self, n: float, r: float, s: int) -> float:
        work = 0.0
        for _ in range(s + 1):
            work += int(n) * r
            n, r = math.ceil(n / self.eta), min(r * self.eta, self.max_t)
        return work or 1.0

    def filled(self) -> bool:
        return len(self.all_trials) >= self.n0 or self.halves < self._initial_halves

    def add(self, trial: Trial) -> None:
        self.live[trial.trial_id] = trial
        self.results[trial.trial_id] = None
        self.all_trials.append(trial)

    def remove(self, trial: Trial) -> None:
        self.live.pop(trial.trial_id, None)
        self.results.pop(trial.trial_id, None)

    def _time(self, trial_id: str, result: dict | None) -> float:
        if result is None:
            return 0
        time = lookup(result, self._time_attr, _MISSING)
        if time is _MISSING:
            raise ValueError(
                f"HyperBandScheduler: trial {trial_id!r} reported no {self._time_attr!r}; "
                f"keys: {sorted(result)}. Report it, or pass the right `time_attr`."
            )
        return time

    def time_of(self, trial_id: str) -> float:
        return self._time(trial_id, self.results.get(trial_id))

    def update(self, trial: Trial, result: dict) -> None:
        self.progress += max(0.0, self._time(trial.trial_id, result) - self.time_of(trial.trial_id))
        self.results[trial.trial_id] = result

    def continue_trial(self, trial_id: str) -> bool:
        """Whether the trial has not yet reached the current milestone (or runs on past the end)."""
        if not self.stop_last and self.halves == 0:
            return True
        return self.time_of(trial_id) < self.milestone

    def cur_iter_done(self) -> bool:
        return all(self.time_of(tid) >= self.milestone for tid in self.live)

    def successive_halving(self, metric: str, metric_op: float) -> list[Trial]:
        """Raise the milestone and keep the best ceil(n/eta) live trials; return the others."""
        self.halves -= 1
        self.n = math.ceil(self.n / self.eta)
        self.milestone = min(self.milestone * self.eta, self.max_t)

        def score(trial: Trial) -> float:
            value = lookup(self.results[trial.trial_id] or {}, metric, _MISSING)
            if value is _MISSING or value is None:
                raise ValueError(
                    f"HyperBandScheduler: trial {trial.trial_id!r} reported no {metric!r}; "
                    "report the metric with every result, or pass the right `metric`."
                )
            return metric_op * value

        ranked = sorted(self.live.values(), key=score)
        return ranked[: -self.n] if self.n < len(ranked) else []

    def completion_percentage(self) -> float:
        return min(self.progress / self.total_work, 1.0)

    def __repr__(self) -> str:
        counts = collections.Counter(t.status for t in self.all_trials)
        statuses = ", ".join(sorted(f"{k}: {v}" for k, v in counts.items()))
        return (
            f"Bracket(Max Size (n)={self.n}, Milestone (r)={self.milestone}, "
            f"completed={self.completion_percentage():.1%}): {{{statuses}}}"
        )


class HyperBandScheduler(FIFOScheduler):
    """Synchronous HyperBand: pauses trials at bracket milestones, then keeps the best 1/eta.

    Args:
        time_attr: result key that measures progress; must increase monotonically.
        metric: result key to optimise (nested keys with '/'). Defaults to TuneConfig's.
        mode: "min" or "max". Defaults to TuneConfig's.
        max_t: the most ``time_attr`` a trial gets.
        reduction_factor: eta: how many trials a halving keeps (1/eta) and how far
            the milestone moves (* eta).
        stop_last_trials: stop trials at their bracket's last milestone; if False they run on.
    Raises:
        ValueError: on an argument out of range.
    """

    _supports_buffered_results = False

    def __init__(
        self,
        time_attr: str = "training_iteration",
        metric: str | None = None,
        mode: str | None = None,
        max_t: float = 81,
        reduction_factor: float = 3,
        stop_last_trials: bool = True,
    ):
        if not max_t > 0:
            raise ValueError(f"`max_t` must be > 0, got {max_t!r}.")
        if not reduction_factor > 1:
            raise ValueError(f"`reduction_factor` must be > 1, got {reduction_factor!r}.")
        validate_mode(mode)
        self._time_attr = time_attr
        self._metric = metric
        self._mode = mode
        self._max_t = max_t
        self._eta = reduction_factor
        self._stop_last_trials = stop_last_trials
        self._s_max_1 = int(round(math.log(max_t) / math.log(reduction_factor))) + 1
        self._hyperbands: list[list[_Bracket | None]] = [[]]
        self._current: _Bracket | None = None
        self._trial_info: dict[str, _Bracket] = {}
        self._to_stop: list[Trial] = []
        self._num_stopped = 0

    def _n0(self, s: int) -> int:
        return int(math.ceil(self._s_max_1 / (s + 1) * self._eta**s))

    def _r0(self, s: int) -> int:
        return int(self._max_t * self._eta ** (-s))

    def on_trial_add(self, controller: TrialController, trial: Trial) -> None:
        """Put the trial in the current bracket, opening a new bracket or band when full."""
        self._check_metric_and_mode()
        while self._current is None or self._current.filled():
            band = self._hyperbands[-1]
            if len(band) == self._s_max_1:
                band = []
                self._hyperbands.append(band)
            s = len(band)
            # A bracket whose first milestone rounds to 0 gets no trials (Ray's "too small").
            self._current = None if self._r0(s) == 0 else self._new_bracket(s)
            band.append(self._current)
        self._current.add(trial)
        self._trial_info[trial.trial_id] = self._current

    def _new_bracket(self, s: int) -> _Bracket:
        return _Bracket(
            self._time_attr, self._n0(s), self._r0(s), self._max_t, self._eta, s, self._stop_last_trials
        )

    def on_trial_result(self, controller: TrialController, trial: Trial, result: dict) -> str:
        """CONTINUE below the milestone; PAUSE at it; STOP if halved out or at the last milestone."""
        bracket = self._trial_info.get(trial.trial_id)
        if bracket is None:
            raise ValueError(
                f"HyperBandScheduler got a result for trial {trial.trial_id!r} it does not know: "
                "call on_trial_add before its first result."
            )
        if trial.trial_id not in bracket.live:
            return TrialScheduler.STOP  # already dropped by a halving; a late result changes nothing
        bracket.update(trial, result)
        return self._process_bracket(bracket, trial)

    def _process_bracket(self, bracket: _Bracket, current: Trial | None) -> str:
        """Halve while every live trial has reached the milestone; decide for ``current``."""
        stopped: list[Trial] = []
        while bracket.live and bracket.halves > 0 and bracket.cur_iter_done():
            stopped += bracket.successive_halving(self._metric, self._metric_op)
        if bracket.halves == 0 and bracket.stop_last:
            stopped += [t for t in bracket.live.values() if not bracket.continue_trial(t.trial_id)]
        for trial in stopped:
            bracket.remove(trial)
            self._num_stopped += 1
            if trial is not current:
                self._to_stop.append(trial)
        if current is None:
            return TrialScheduler.NOOP
        if current in stopped:
            return TrialScheduler.STOP
        return TrialScheduler.CONTINUE if bracket.continue_trial(current.trial_id) else TrialScheduler.PAUSE

    def on_trial_remove(self, controller: TrialController, trial: Trial) -> None:
        """Forget the trial; its bracket may now be able to halve."""
        bracket = self._trial_info.pop(trial.trial_id, None)
        if bracket is not None and trial.trial_id in bracket.live:
            bracket.remove(trial)
            self._process_bracket(bracket, None)

    def on_trial_complete(self, controller: TrialController, trial: Trial, result: dict) -> None:
        self.on_trial_remove(controller, trial)

    def on_trial_error(self, controller: TrialController, trial: Trial) -> None:
        self.on_trial_remove(controller, trial)

    def pop_trials_to_stop(self) -> list[Trial]:
        """Paused trials that a halving dropped; the runner stops them."""
        out, self._to_stop = self._to_stop, []
        return out

    def choose_trial_to_run(self, controller: TrialController) -> Trial | None:
        """A new trial or a promoted paused one, least complete bracket first, oldest band first."""
        for band in self._hyperbands:
            brackets = sorted((b for b in band if b is not None), key=lambda b: b.completion_percentage())
            for bracket in brackets:
                for trial in bracket.live.values():
                    if trial.status in (PENDING, PAUSED) and bracket.continue_trial(trial.trial_id):
                        return trial
        return None

    def debug_string(self) -> str:
        total = sum(len(band) for band in self._hyperbands)
        out = f"Using HyperBand: num_stopped={self._num_stopped} total_brackets={total}"
        for i, band in enumerate(self._hyperbands):
            out += f"\nRound #{i}:"
            out += "".join(f"\n  {b!r}" for b in band if b is not None)
        return out
