"""Trial schedulers: the base interface, FIFO and ASHA, driven synchronously with a fake runner."""

import random

import numpy as np
import pytest

from greenroom.tune.experiment.trial import PAUSED, PENDING, RUNNING, TERMINATED, Trial
from greenroom.tune.schedulers import (
    ASHAScheduler,
    AsyncHyperBandScheduler,
    FIFOScheduler,
    HyperBandScheduler,
    MedianStoppingRule,
    PopulationBasedTraining,
    TrialController,
    TrialScheduler,
    create_scheduler,
)
from greenroom.tune.schedulers.async_hyperband import percentile

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


def make_trials(n, status=RUNNING):
    return [Trial(trial_id=f"t{i}", config={}, status=status) for i in range(n)]


def added(scheduler, n):
    """n RUNNING trials, added to ``scheduler``; returns (controller, trials)."""
    trials = make_trials(n)
    ctl = FakeController(trials)
    for t in trials:
        scheduler.on_trial_add(ctl, t)
    return ctl, trials


def run_round_robin(scheduler, ctl, trials, values, max_iter):
    """Each live trial reports iterations 1..max_iter in turn; returns {trial_id: iteration stopped}."""
    stopped = {}
    for it in range(1, max_iter + 1):
        for t in trials:
            if t.trial_id in stopped:
                continue
            result = {"training_iteration": it, "score": values[t.trial_id]}
            action = scheduler.on_trial_result(ctl, t, result)
            if action == STOP:
                stopped[t.trial_id] = it
                t.status = TERMINATED
                scheduler.on_trial_complete(ctl, t, {"training_iteration": it, "score": values[t.trial_id]})
    return stopped


def test_fake_controller_satisfies_protocol():
    """The fake runner is a TrialController (the protocol is runtime-checkable)."""
    assert isinstance(FakeController(), TrialController)


def test_fifo_always_continues_and_runs_in_order():
    """FIFO answers CONTINUE and picks the first PENDING trial, then the first PAUSED one."""
    sched = FIFOScheduler()
    trials = make_trials(4, status=RUNNING)
    ctl = FakeController(trials)
    for t in trials:
        sched.on_trial_add(ctl, t)
    assert sched.on_trial_result(ctl, trials[0], {"training_iteration": 1}) == CONTINUE
    assert sched.choose_trial_to_run(ctl) is None
    trials[1].status, trials[3].status = PAUSED, PENDING
    assert sched.choose_trial_to_run(ctl) is trials[3]
    assert sched.choose_trial_to_run(ctl) is trials[3]  # idempotent
    trials[3].status = RUNNING
    assert sched.choose_trial_to_run(ctl) is trials[1]
    assert sched.pop_trials_to_stop() == []
    assert "FIFO" in sched.debug_string()


def test_set_search_properties_fills_unset_and_rejects_conflicts():
    """metric/mode come from TuneConfig unless set differently in the constructor."""
    sched = ASHAScheduler()
    assert sched.set_search_properties("acc", "max") is True
    assert (sched.metric, sched.mode) == ("acc", "max")
    assert sched.set_search_properties("acc", "max") is True
    assert sched.set_search_properties("loss", None) is False
    assert sched.set_search_properties(None, "min") is False
    only_mode = ASHAScheduler()
    assert only_mode.set_search_properties(None, "min") is True
    assert only_mode.metric == "_metric"


def test_set_search_properties_rejects_bad_mode():
    """A mode other than min/max raises and names the value."""
    with pytest.raises(ValueError, match="'avg'"):
        FIFOScheduler().set_search_properties("x", "avg")


@pytest.mark.parametrize(
    "cls", [AsyncHyperBandScheduler, HyperBandScheduler, MedianStoppingRule, PopulationBasedTraining]
)
def test_constructors_reject_bad_mode(cls):
    """Every metric-driven scheduler rejects a mode other than min/max."""
    kwargs = {"hyperparam_mutations": {"lr": [1, 2]}} if cls is PopulationBasedTraining else {}
    with pytest.raises(ValueError, match="mode"):
        cls(metric="x", mode="maximize", **kwargs)


@pytest.mark.parametrize(
    "cls", [AsyncHyperBandScheduler, HyperBandScheduler, MedianStoppingRule, PopulationBasedTraining]
)
def test_add_without_metric_or_mode_says_where_to_set_them(cls):
    """Adding a trial before metric and mode are known raises, pointing at TuneConfig."""
    kwargs = {"hyperparam_mutations": {"lr": [1, 2]}} if cls is PopulationBasedTraining else {}
    sched = cls(**kwargs)
    with pytest.raises(ValueError, match="TuneConfig"):
        sched.on_trial_add(FakeController(), make_trials(1)[0])


def test_percentile_matches_numpy():
    """The interpolated percentile equals numpy's nanpercentile."""
    rng = random.Random(0)
    for n in (1, 2, 3, 7, 20):
        values = [rng.uniform(-5, 5) for _ in range(n)]
        for q in (0, 25, 50, 66.6, 75, 100):
            assert percentile(values, q) == pytest.approx(np.nanpercentile(values, q))
    assert percentile([1.0, float("nan"), 3.0], 50) == 2.0
    assert percentile([], 50) is None


def test_asha_rungs_are_grace_times_powers_of_rf():
    """Rungs sit at grace_period * rf**k up to max_t, for each bracket offset s."""
    sched = AsyncHyperBandScheduler(
        metric="m", mode="max", grace_period=1, reduction_factor=4, max_t=100, brackets=3
    )
    rungs = [[m for m, _ in b.rungs] for b in sched._brackets]
    assert rungs == [[64, 16, 4, 1], [64, 16, 4], [64, 16]]
    exact = AsyncHyperBandScheduler(metric="m", mode="max", grace_period=1, reduction_factor=10, max_t=1000)
    assert [m for m, _ in exact._brackets[0].rungs] == [1000, 100, 10, 1]


@pytest.mark.parametrize("mode,sign", [("max", 1), ("min", -1)])
def test_asha_stops_bad_trials_at_rungs_and_lets_the_best_reach_max_t(mode, sign):
    """Trials below the top 1/rf at a rung stop there; the best runs to max_t and stops."""
    sched = ASHAScheduler(metric="score", mode=mode, grace_period=1, reduction_factor=2, max_t=8)
    ctl, trials = added(sched, 4)
    # Best first, so each later (worse) trial meets a cutoff set by better ones.
    values = {"t0": sign * 4.0, "t1": sign * 3.0, "t2": sign * 2.0, "t3": sign * 1.0}
    stopped = run_round_robin(sched, ctl, trials, values, max_iter=10)
    assert stopped == {"t0": 8, "t1": 1, "t2": 1, "t3": 1}
    assert "num_stopped=4" in sched.debug_string()


def test_asha_stops_at_later_rung_when_a_trial_falls_behind():
    """A trial good at the first rung but behind at the next one stops at that rung."""
    sched = ASHAScheduler(metric="score", mode="max", grace_period=1, reduction_factor=2, max_t=16)
    ctl, (a, b) = added(sched, 2)

    def report(t, it, v):
        return sched.on_trial_result(ctl, t, {"training_iteration": it, "score": v})

    assert report(a, 1, 1.0) == CONTINUE
    assert report(b, 1, 2.0) == CONTINUE  # better than a: above the cutoff
    assert report(a, 2, 5.0) == CONTINUE  # first at rung 2
    assert report(b, 2, 3.0) == STOP  # below a's 5.0 at rung 2
    assert report(a, 3, 5.0) == CONTINUE  # between rungs: no decision


def test_asha_later_results_at_a_judged_rung_continue():
    """Only the first result at or past a rung is judged; results before grace_period never stop."""
    sched = ASHAScheduler(metric="score", mode="max", grace_period=4, reduction_factor=2, max_t=64)
    ctl, (a, b) = added(sched, 2)
    for it in (1, 2, 3):
        assert sched.on_trial_result(ctl, b, {"training_iteration": it, "score": -100}) == CONTINUE
    assert sched.on_trial_result(ctl, a, {"training_iteration": 4, "score": 10}) == CONTINUE
    assert sched.on_trial_result(ctl, b, {"training_iteration": 4, "score": -100}) == STOP
    assert sched.on_trial_result(ctl, a, {"training_iteration": 5, "score": 1}) == CONTINUE


def test_asha_stop_last_trials_false_runs_past_max_t():
    """With stop_last_trials=False a trial at max_t is not stopped."""
    sched = ASHAScheduler(metric="score", mode="max", grace_period=1, max_t=4, reduction_factor=2,
                          stop_last_trials=False)
    ctl, (a,) = added(sched, 1)
    for it in range(1, 8):
        assert sched.on_trial_result(ctl, a, {"training_iteration": it, "score": 1.0}) == CONTINUE


def test_asha_result_without_metric_or_time_continues():
    """A result missing the metric or time attribute gets CONTINUE and records nothing."""
    sched = ASHAScheduler(metric="score", mode="max")
    ctl, (a,) = added(sched, 1)
    assert sched.on_trial_result(ctl, a, {"training_iteration": 200}) == CONTINUE
    assert sched.on_trial_result(ctl, a, {"score": 1.0}) == CONTINUE
    assert all(not rec for _, rec in sched._brackets[0].rungs)


def test_asha_nested_metric_key():
    """A metric named 'a/b' is read from nested results."""
    sched = ASHAScheduler(metric="eval/acc", mode="max", grace_period=1, reduction_factor=2, max_t=8)
    ctl, (a, b) = added(sched, 2)
    assert sched.on_trial_result(ctl, a, {"training_iteration": 1, "eval": {"acc": 0.9}}) == CONTINUE
    assert sched.on_trial_result(ctl, b, {"training_iteration": 1, "eval": {"acc": 0.1}}) == STOP


def test_asha_complete_records_final_result_and_forgets_trial():
    """on_trial_complete records the last result at its rung and drops the trial."""
    sched = ASHAScheduler(metric="score", mode="max", grace_period=1, reduction_factor=2, max_t=8)
    ctl, (a, b) = added(sched, 2)
    sched.on_trial_complete(ctl, a, {"training_iteration": 1, "score": 5.0})
    assert "t0" not in sched._trial_info
    assert sched.on_trial_result(ctl, b, {"training_iteration": 1, "score": 1.0}) == STOP
    sched.on_trial_remove(ctl, b)
    with pytest.raises(ValueError, match="on_trial_add"):
        sched.on_trial_result(ctl, b, {"training_iteration": 2, "score": 1.0})


def test_asha_brackets_assigned_by_softmax_of_rung_count():
    """With several brackets, the bracket with more rungs gets more trials."""
    random.seed(1234)
    sched = ASHAScheduler(
        metric="score", mode="max", grace_period=1, reduction_factor=4, max_t=100, brackets=3
    )
    ctl, trials = added(sched, 600)
    counts = [sum(sched._trial_info[t.trial_id] is b for t in trials) for b in sched._brackets]
    # Expected shares: e^0 : e^-1 : e^-2 = 66.5% : 24.5% : 9%.
    assert counts[0] > counts[1] > counts[2] > 0
    assert 0.55 < counts[0] / 600 < 0.78


def test_asha_bracket_with_later_rungs_judges_later():
    """A trial in bracket s=1 is first judged at grace_period * rf, not at grace_period."""
    sched = ASHAScheduler(
        metric="score", mode="max", grace_period=1, reduction_factor=2, max_t=16, brackets=2
    )
    ctl, (a, b) = added(sched, 2)
    sched._trial_info["t0"] = sched._trial_info["t1"] = sched._brackets[1]
    sched.on_trial_result(ctl, a, {"training_iteration": 1, "score": 10})
    assert sched.on_trial_result(ctl, b, {"training_iteration": 1, "score": 0}) == CONTINUE
    sched.on_trial_result(ctl, a, {"training_iteration": 2, "score": 10})
    assert sched.on_trial_result(ctl, b, {"training_iteration": 2, "score": 0}) == STOP


@pytest.mark.parametrize(
    "kwargs,match",
    [
        ({"grace_period": 0}, "grace_period"),
        ({"reduction_factor": 1}, "reduction_factor"),
        ({"max_t": 5, "grace_period": 10}, "max_t"),
        ({"brackets": 0}, "brackets"),
    ],
)
def test_asha_bad_arguments(kwargs, match):
    """Out-of-range ASHA arguments raise ValueError naming the argument."""
    with pytest.raises(ValueError, match=match):
        AsyncHyperBandScheduler(**kwargs)


def test_create_scheduler_by_name():
    """Ray's short names build the matching scheduler; unknown names list the known ones."""
    assert isinstance(create_scheduler("fifo"), FIFOScheduler)
    assert isinstance(create_scheduler("AsyncHyperBand", max_t=10), AsyncHyperBandScheduler)
    assert isinstance(create_scheduler("hyperband"), HyperBandScheduler)
    assert isinstance(create_scheduler("median_stopping_rule"), MedianStoppingRule)
    assert isinstance(create_scheduler("pbt", hyperparam_mutations={"lr": [1, 2]}), PopulationBasedTraining)
    with pytest.raises(ValueError, match="'pb3'.*fifo"):
        create_scheduler("pb3")


def test_base_scheduler_methods_must_be_overridden():
    """The bare interface raises NotImplementedError, like Ray's."""
    with pytest.raises(NotImplementedError):
        TrialScheduler().on_trial_result(FakeController(), make_trials(1)[0], {})
    assert TrialScheduler().pop_trials_to_stop() == []


def test_pending_trials_are_chosen_before_paused_by_asha():
    """ASHA schedules like FIFO."""
    sched = ASHAScheduler(metric="score", mode="max")
    trials = make_trials(2, status=PAUSED)
    trials[1].status = PENDING
    assert sched.choose_trial_to_run(FakeController(trials)) is trials[1]
