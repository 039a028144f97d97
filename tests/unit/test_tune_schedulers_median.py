"""MedianStoppingRule: grace period, minimum samples, best-vs-median, soft stop; driven by a fake runner."""

import pytest

from greenroom.tune.experiment.trial import PAUSED, PENDING, RUNNING, Trial
from greenroom.tune.schedulers import MedianStoppingRule, TrialScheduler

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


def setup(n, mode="max", **kwargs):
    kwargs = {"grace_period": 0, "min_samples_required": 1, **kwargs}
    sched = MedianStoppingRule(time_attr="t", metric="m", mode=mode, **kwargs)
    trials = [Trial(trial_id=f"t{i}", config={}, status=RUNNING) for i in range(n)]
    ctl = FakeController(trials)
    for trial in trials:
        sched.on_trial_add(ctl, trial)
    return sched, ctl, trials


def feed(sched, ctl, trial, values, start=1):
    """Report values at t=start, start+1, ...; return the first decision other than CONTINUE."""
    actions = [sched.on_trial_result(ctl, trial, {"t": t, "m": v}) for t, v in enumerate(values, start=start)]
    return next((a for a in actions if a != CONTINUE), CONTINUE)


@pytest.mark.parametrize("mode,sign", [("max", 1), ("min", -1)])
def test_stops_trial_worse_than_median_of_running_means(mode, sign):
    """A trial whose best result is worse than the others' median running mean is stopped."""
    sched, ctl, (a, b, c, bad) = setup(4, mode=mode, min_samples_required=3)
    for trial in (a, b, c):
        assert feed(sched, ctl, trial, [sign * 10] * 5) == CONTINUE
    assert feed(sched, ctl, bad, [sign * 1, sign * 2]) == STOP
    assert "num_stopped=1" in sched.debug_string()


@pytest.mark.parametrize("mode,sign", [("max", 1), ("min", -1)])
def test_trial_at_or_above_median_continues(mode, sign):
    """A trial whose best result matches the median goes on."""
    sched, ctl, (a, b, c, ok) = setup(4, mode=mode, min_samples_required=3)
    for trial, v in ((a, 5), (b, 10), (c, 20)):
        feed(sched, ctl, trial, [sign * v] * 3)
    assert feed(sched, ctl, ok, [sign * 10] * 3) == CONTINUE


def test_best_result_not_latest_is_compared():
    """A trial that was once above the median is not stopped by a later bad result."""
    sched, ctl, (a, b) = setup(2)
    feed(sched, ctl, a, [5, 5, 5])
    assert feed(sched, ctl, b, [9, 0, 0]) == CONTINUE


def test_running_mean_only_counts_results_up_to_the_time():
    """The others' means use their results between grace_period and the current time only."""
    sched, ctl, (a, b) = setup(2)
    feed(sched, ctl, a, [1, 1, 100, 100])  # mean up to t=2 is 1
    assert feed(sched, ctl, b, [2, 2]) == CONTINUE
    # At t=3 a's mean is (1+1+100)/3 = 34 > b's best (5).
    assert sched.on_trial_result(ctl, b, {"t": 3, "m": 5}) == STOP


def test_grace_period_protects_young_trials():
    """Before grace_period a trial always continues, and early results don't count in means."""
    sched, ctl, (a, b) = setup(2, grace_period=3)
    feed(sched, ctl, a, [10, 10, 10, 10])
    assert feed(sched, ctl, b, [0, 0]) == CONTINUE  # t=1, 2 < grace
    assert sched.on_trial_result(ctl, b, {"t": 3, "m": 0}) == STOP


def test_min_samples_required_before_judging():
    """With fewer other trials at the same time than required, the trial continues."""
    sched, ctl, (a, b, c) = setup(3, min_samples_required=2)
    feed(sched, ctl, a, [10, 10, 10])
    assert feed(sched, ctl, c, [0, 0, 0]) == CONTINUE  # only a has reached t
    feed(sched, ctl, b, [10, 10, 10, 10])
    assert sched.on_trial_result(ctl, c, {"t": 4, "m": 0}) == CONTINUE  # only b reached t=4
    assert sched.on_trial_result(ctl, c, {"t": 3, "m": 0}) == STOP  # a and b reached t=3


def test_insufficient_samples_pauses_when_others_wait():
    """Without enough samples a trial yields to PENDING/PAUSED trials, at most once per min_time_slice."""
    sched, ctl, (a, b) = setup(2, min_samples_required=1, min_time_slice=2)
    b.status = PENDING
    assert sched.on_trial_result(ctl, a, {"t": 1, "m": 1}) == PAUSE
    assert sched.on_trial_result(ctl, a, {"t": 2, "m": 1}) == CONTINUE  # within the time slice
    assert sched.on_trial_result(ctl, a, {"t": 3, "m": 1}) == CONTINUE
    assert sched.on_trial_result(ctl, a, {"t": 4, "m": 1}) == PAUSE


def test_completed_trials_count_as_samples():
    """The final result of a completed trial counts towards the median."""
    sched, ctl, (a, b) = setup(2)
    sched.on_trial_complete(ctl, a, {"t": 5, "m": 10})
    assert sched.on_trial_result(ctl, b, {"t": 5, "m": 0}) == STOP


def test_soft_stop_pauses_and_resumes_last():
    """hard_stop=False pauses a failing trial; it runs again only when nothing else waits."""
    sched, ctl, (a, bad, other) = setup(3, hard_stop=False)
    feed(sched, ctl, a, [10, 10])
    assert feed(sched, ctl, bad, [0, 0]) == PAUSE
    bad.status, other.status = PAUSED, PAUSED
    assert sched.choose_trial_to_run(ctl) is other
    other.status = RUNNING
    assert sched.choose_trial_to_run(ctl) is bad
    bad.status = RUNNING
    assert sched.on_trial_result(ctl, bad, {"t": 3, "m": 0}) == CONTINUE


def test_result_without_metric_continues():
    """A result missing the metric or time attribute is ignored."""
    sched, ctl, (a,) = setup(1)
    assert sched.on_trial_result(ctl, a, {"t": 100}) == CONTINUE
    assert sched.on_trial_result(ctl, a, {"m": 1}) == CONTINUE


def test_defaults_match_ray():
    """Defaults: time_total_s, grace 60 s, 3 samples, hard stop."""
    sched = MedianStoppingRule()
    assert (sched._time_attr, sched._grace_period, sched._min_samples_required, sched._hard_stop) == (
        "time_total_s", 60.0, 3, True
    )


@pytest.mark.parametrize(
    "kwargs,match",
    [({"grace_period": -1}, "grace_period"), ({"min_samples_required": 0}, "min_samples_required"),
     ({"min_time_slice": -1}, "min_time_slice")],
)
def test_bad_arguments(kwargs, match):
    """Out-of-range arguments raise ValueError naming the argument."""
    with pytest.raises(ValueError, match=match):
        MedianStoppingRule(**kwargs)
