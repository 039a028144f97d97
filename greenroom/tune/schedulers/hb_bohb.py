"""``HyperBandForBOHB``: HyperBand changed for BOHB, as Ray's.

Three differences from ``HyperBandScheduler``: brackets fill largest first
(the most trials at the smallest budget); a trial that reaches its milestone
pauses even while its bracket is not full, so the searcher can add trials to
it; and when no trial runs, brackets with paused trials halve so that the
best go on. A searcher with ``on_pause``/``on_unpause`` (Ray's ``TuneBOHB``)
hears of each pause and resume.
"""

from __future__ import annotations

from greenroom.tune.experiment.trial import PAUSED, PENDING, RUNNING, Trial
from greenroom.tune.schedulers.hyperband import HyperBandScheduler, _Bracket
from greenroom.tune.schedulers.trial_scheduler import TrialController, TrialScheduler

__all__ = ["HyperBandForBOHB"]


def _searcher_hook(controller: TrialController, hook: str, trial: Trial) -> None:
    searcher = getattr(getattr(controller, "search_alg", None), "searcher", None)
    fn = getattr(searcher, hook, None)
    if fn is not None:
        fn(trial.trial_id)


class HyperBandForBOHB(HyperBandScheduler):
    """HyperBand for BOHB; the arguments are ``HyperBandScheduler``'s."""

    def on_trial_add(self, controller: TrialController, trial: Trial) -> None:
        """Put the trial in the current bracket; when full, open the band's largest unopened one."""
        self._check_metric_and_mode()
        while self._current is None or self._current.filled():
            band = self._hyperbands[-1]
            if len(band) == self._s_max_1:
                band = []
                self._hyperbands.append(band)
            s = self._s_max_1 - len(band) - 1  # largest bracket first
            self._current = None if self._r0(s) == 0 else self._new_bracket(s)
            band.append(self._current)
        self._current.add(trial)
        self._trial_info[trial.trial_id] = self._current

    def on_trial_result(self, controller: TrialController, trial: Trial, result: dict) -> str:
        """CONTINUE below the milestone; at it, PAUSE until the bracket is full and every other
        trial of it waits there too, then halve."""
        bracket = self._trial_info.get(trial.trial_id)
        if bracket is None:
            raise ValueError(
                f"HyperBandForBOHB got a result for trial {trial.trial_id!r} it does not know: "
                "call on_trial_add before its first result."
            )
        if trial.trial_id not in bracket.live:
            return TrialScheduler.STOP
        bracket.update(trial, result)
        if bracket.continue_trial(trial.trial_id):
            return TrialScheduler.CONTINUE
        others_wait = all(t.status == PAUSED for t in bracket.live.values() if t is not trial)
        if not bracket.filled() or not others_wait:
            _searcher_hook(controller, "on_pause", trial)
            return TrialScheduler.PAUSE
        decision = self._process_bracket(bracket, trial)
        if decision == TrialScheduler.PAUSE:
            _searcher_hook(controller, "on_pause", trial)
        return decision

    def choose_trial_to_run(self, controller: TrialController, allow_recurse: bool = True) -> Trial | None:
        """A new trial or one a halving promoted, oldest band first; when nothing runs, halve the
        brackets whose trials all wait, and choose again."""
        for bracket in self._brackets():
            trial = self._runnable(bracket)
            if trial is not None:
                if trial.status == PAUSED:
                    _searcher_hook(controller, "on_unpause", trial)
                return trial
        if any(t.status == RUNNING for t in controller.get_trials()):
            return None
        for bracket in self._brackets():
            if any(t.status == PAUSED for t in bracket.live.values()):
                self._process_bracket(bracket, None)
                if allow_recurse and self._runnable(bracket) is not None:
                    return self.choose_trial_to_run(controller, allow_recurse=False)
        return None

    def _brackets(self) -> list[_Bracket]:
        return [b for band in self._hyperbands for b in band if b is not None]

    @staticmethod
    def _runnable(bracket: _Bracket) -> Trial | None:
        for trial in bracket.live.values():
            if trial.status == PENDING or (trial.status == PAUSED and bracket.continue_trial(trial.trial_id)):
                return trial
        return None

    def debug_string(self) -> str:
        return super().debug_string().replace("Using HyperBand", "Using HyperBandForBOHB", 1)
