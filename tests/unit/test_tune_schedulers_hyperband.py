"""Synchronous HyperBand: bracket filling, pause at milestones, promote and stop, driven by a fake runner."""

import pytest

from greenroom.tune.experiment.trial import PAUSED, PENDING, RUNNING, TERMINATED, Trial
from greenroom.tune.schedulers import HyperBandScheduler, TrialScheduler

CONTINUE, PAUSE, STOP = TrialScheduler.CONTINUE, TrialScheduler.PAUSE, TrialScheduler.STOP


class FakeController:
    """The runner side of the protocol: a trial list and a record of exploit requests."""

    def __init__(self, trials=()):
        self.trials = list(trials)
        self.exploits = []

    def get_trials(self):
        return list(self.trials)

    def request_exploit(self, trial, source_trial, new_config):
        self.exploits.append((trial, source_trial, new_config))


def bracket_s1(mode="max", **kwargs):
    """max_t=9, eta=3: brackets s=0 (3 trials, r=9), s=1 (5 trials, r=3 then 9), s=2 (9 trials, r=1).

    Returns the scheduler, controller and the five trials of bracket s=1, all RUNNING;
    the three trials of bracket s=0 are added first and removed.
    """
    sched = HyperBandScheduler(metric="score", mode=mode, max_t=9, reduction_factor=3, **kwargs)
    ctl = FakeController()
    for i in range(8):
        trial = Trial(trial_id=f"t{i}", config={}, status=RUNNING)
        ctl.trials.append(trial)
        sched.on_trial_add(ctl, trial)
    for filler in ctl.trials[:3]:
        filler.status = TERMINATED
        sched.on_trial_remove(ctl, filler)
    return sched, ctl, ctl.trials[3:]


def report(sched, ctl, trial, it, score):
    """Deliver a result and apply the decision to the trial's status, as the runner would."""
    action = sched.on_trial_result(ctl, trial, {"training_iteration": it, "score": score})
    if action == PAUSE:
        trial.status = PAUSED
    elif action == STOP:
        trial.status = TERMINATED
        sched.on_trial_complete(ctl, trial, {})
    return action


def test_trials_fill_brackets_smallest_first_then_a_new_band():
    """Brackets take ceil((s_max+1)/(s+1) * eta**s) trials each, in order s=0,1,2, then a new band."""
    sched = HyperBandScheduler(metric="score", mode="max", max_t=9, reduction_factor=3)
    ctl = FakeController()
    for i in range(18):
        sched.on_trial_add(ctl, Trial(trial_id=f"t{i}", config={}))
    sizes = [[len(b.all_trials) for b in band] for band in sched._hyperbands]
    milestones = [[b.milestone for b in band] for band in sched._hyperbands]
    assert sizes == [[3, 5, 9], [1]]
    assert milestones == [[9, 3, 1], [9]]
    assert "total_brackets=4" in sched.debug_string()


@pytest.mark.parametrize("mode,sign", [("max", 1), ("min", -1)])
def test_pause_at_milestone_then_halve_promote_and_stop(mode, sign):
    """Trials pause at the milestone; when the last arrives the best ceil(n/eta) go on, the rest stop."""
    sched, ctl, trials = bracket_s1(mode)
    scores = {t.trial_id: sign * rank for rank, t in enumerate(trials)}  # trials[4] is best
    for t in trials:
        for it in (1, 2):
            assert report(sched, ctl, t, it, scores[t.trial_id]) == CONTINUE
    for t in trials[1:]:
        assert report(sched, ctl, t, 3, scores[t.trial_id]) == PAUSE
    assert sched.choose_trial_to_run(ctl) is None  # everyone paused waits for trials[0]
    # The last (and worst) trial reaches the milestone: the bracket halves to ceil(5/3) = 2.
    assert report(sched, ctl, trials[0], 3, scores[trials[0].trial_id]) == STOP
    assert sched.pop_trials_to_stop() == [trials[1], trials[2]]
    assert sched.pop_trials_to_stop() == []  # each stop request comes out once
    for t in (trials[1], trials[2]):
        t.status = TERMINATED
        sched.on_trial_remove(ctl, t)
    # The two best are resumed, one at a time, through choose_trial_to_run.
    assert sched.choose_trial_to_run(ctl) is trials[3]
    assert sched.choose_trial_to_run(ctl) is trials[3]  # idempotent
    trials[3].status = RUNNING
    assert sched.choose_trial_to_run(ctl) is trials[4]
    trials[4].status = RUNNING
    assert sched.choose_trial_to_run(ctl) is None
    for it in range(4, 9):
        assert report(sched, ctl, trials[3], it, scores[trials[3].trial_id]) == CONTINUE
    # The last milestone (max_t) ends the trial at once.
    assert report(sched, ctl, trials[3], 9, scores[trials[3].trial_id]) == STOP
    assert report(sched, ctl, trials[4], 4, scores[trials[4].trial_id]) == CONTINUE
    assert "num_stopped=4" in sched.debug_string()


def test_last_arrival_among_the_best_continues():
    """If the trial completing the cohort is among the best, it is answered CONTINUE."""
    sched, ctl, trials = bracket_s1()
    for rank, t in enumerate(trials[:4]):
        assert report(sched, ctl, t, 3, rank) == PAUSE
    assert report(sched, ctl, trials[4], 3, 10) == CONTINUE
    assert sched.pop_trials_to_stop() == trials[:3]
    assert sched.choose_trial_to_run(ctl) is trials[3]


def test_trial_removed_while_others_wait_triggers_halving():
    """Stopping the one trial the others wait for halves the bracket among the rest."""
    sched, ctl, trials = bracket_s1()
    for rank, t in enumerate(trials[:4]):
        assert report(sched, ctl, t, 3, rank) == PAUSE
    trials[4].status = TERMINATED
    sched.on_trial_complete(ctl, trials[4], {})  # e.g. a stopper ended it
    assert sched.pop_trials_to_stop() == trials[:2]
    assert sched.choose_trial_to_run(ctl) is trials[2]


def test_errored_trial_is_forgotten():
    """An errored trial leaves its bracket and no longer holds up the halving."""
    sched, ctl, trials = bracket_s1()
    for rank, t in enumerate(trials[1:]):
        report(sched, ctl, t, 3, rank)
    trials[0].status = "ERROR"
    sched.on_trial_error(ctl, trials[0])
    assert sched.pop_trials_to_stop() == trials[1:3]


def test_new_trials_are_chosen_least_complete_bracket_first():
    """PENDING trials are started from the bracket with the least progress."""
    sched = HyperBandScheduler(metric="score", mode="max", max_t=9, reduction_factor=3)
    trials = [Trial(trial_id=f"t{i}", config={}) for i in range(4)]
    ctl = FakeController(trials)
    for t in trials:
        sched.on_trial_add(ctl, t)
    assert sched.choose_trial_to_run(ctl) is trials[0]
    trials[0].status = RUNNING
    sched.on_trial_result(ctl, trials[0], {"training_iteration": 2, "score": 1})
    # Bracket s=0 now has progress; the s=1 bracket (t3) has none.
    assert sched.choose_trial_to_run(ctl) is trials[3]


def test_paused_but_not_promoted_trial_is_not_resumed():
    """A trial waiting at its milestone is not chosen even though it is PAUSED."""
    sched, ctl, trials = bracket_s1()
    assert report(sched, ctl, trials[0], 3, 1.0) == PAUSE
    assert sched.choose_trial_to_run(ctl) is None
    trials[1].status = PENDING  # never started: may run
    assert sched.choose_trial_to_run(ctl) is trials[1]


def test_bracket_without_halving_runs_trials_to_max_t():
    """Bracket s=0 never halves: its trials run to max_t and stop there."""
    sched = HyperBandScheduler(metric="score", mode="max", max_t=9, reduction_factor=3)
    trials = [Trial(trial_id=f"t{i}", config={}, status=RUNNING) for i in range(3)]
    ctl = FakeController(trials)
    for t in trials:
        sched.on_trial_add(ctl, t)
    for it in range(1, 9):
        assert report(sched, ctl, trials[0], it, 0.0) == CONTINUE
    assert report(sched, ctl, trials[0], 9, 0.0) == STOP


def test_stop_last_trials_false_lets_trials_run_past_the_end():
    """With stop_last_trials=False survivors of the last halving run on."""
    sched, ctl, trials = bracket_s1(stop_last_trials=False)
    for rank, t in enumerate(trials):
        report(sched, ctl, t, 3, rank)
    best = trials[4]
    assert best.status == RUNNING
    for it in range(4, 15):
        assert report(sched, ctl, best, it, 4) == CONTINUE


def test_late_result_of_a_stopped_trial_is_answered_stop():
    """A result from a trial a halving already dropped gets STOP, not an error."""
    sched, ctl, trials = bracket_s1()
    for rank, t in enumerate(trials):
        report(sched, ctl, t, 3, rank)
    dropped = sched.pop_trials_to_stop()[0]
    assert sched.on_trial_result(ctl, dropped, {"training_iteration": 4, "score": 0}) == STOP


def test_missing_time_attr_or_metric_is_explained():
    """A result without time_attr, or a halving without the metric, raises naming the key."""
    sched, ctl, trials = bracket_s1()
    with pytest.raises(ValueError, match="'training_iteration'"):
        sched.on_trial_result(ctl, trials[0], {"score": 1})
    sched, ctl, trials = bracket_s1()
    for t in trials[1:]:
        report(sched, ctl, t, 3, 1.0)
    with pytest.raises(ValueError, match="'score'"):
        sched.on_trial_result(ctl, trials[0], {"training_iteration": 3})


def test_unknown_trial_result_raises():
    """A result for a trial never added says to call on_trial_add."""
    sched = HyperBandScheduler(metric="score", mode="max")
    with pytest.raises(ValueError, match="on_trial_add"):
        sched.on_trial_result(FakeController(), Trial(trial_id="x", config={}), {"training_iteration": 1})


@pytest.mark.parametrize(
    "kwargs,match", [({"max_t": 0}, "max_t"), ({"reduction_factor": 1}, "reduction_factor")]
)
def test_bad_arguments(kwargs, match):
    """Out-of-range HyperBand arguments raise ValueError naming the argument."""
    with pytest.raises(ValueError, match=match):
        HyperBandScheduler(**kwargs)


def test_does_not_support_buffered_results():
    """HyperBand must see each result before the next (as in Ray)."""
    assert HyperBandScheduler().supports_buffered_results is False
