"""ResourceChangingScheduler and its allocation functions, and HyperBandForBOHB, driven by fake runners."""

from __future__ import annotations

import pytest

from greenroom.tune.execution.capacity import ResourceTotals
from greenroom.tune.experiment.trial import PAUSED, RUNNING, TERMINATED, Trial
from greenroom.tune.resources import PlacementGroupFactory as PGF
from greenroom.tune.schedulers import (
    DistributeResources,
    DistributeResourcesToTopJob,
    FIFOScheduler,
    HyperBandForBOHB,
    ResourceChangingScheduler,
    TrialScheduler,
)

CONTINUE, PAUSE, STOP = TrialScheduler.CONTINUE, TrialScheduler.PAUSE, TrialScheduler.STOP


class Runner:
    """The runner side an allocation function reads: live trials and the node's totals."""

    def __init__(self, trials, cpus=8, gpus=0):
        self.trials = list(trials)
        self._resource_updater = ResourceTotals({"CPU": cpus, "GPU": gpus})

    def get_trials(self):
        return list(self.trials)

    def get_live_trials(self):
        return [t for t in self.trials if t.status not in (TERMINATED, "ERROR")]

    def request_exploit(self, trial, source, config):
        raise AssertionError("no exploits here")


def trials(n, cpus=1, gpus=0, status=RUNNING):
    bundle = {"CPU": cpus, **({"GPU": gpus} if gpus else {})}
    return [Trial(trial_id=f"t{i}", config={}, status=status, resources=PGF([bundle])) for i in range(n)]


def with_base(runner, scheduler=None):
    scheduler = scheduler or ResourceChangingScheduler()
    for trial in runner.trials:
        scheduler.on_trial_add(runner, trial)
    return scheduler


# -- DistributeResources -----------------------------------------------------------------------------


def test_even_split_of_free_cpus():
    """8 CPUs, 2 live 1-CPU trials: each may grow to 4 CPUs; the first to ask takes its share."""
    runner = Runner(trials(2), cpus=8)
    scheduler = with_base(runner)
    assert DistributeResources()(runner, runner.trials[0], {"training_iteration": 1}, scheduler) == PGF(
        [{"CPU": 4, "GPU": 0}]
    )


def test_a_trial_grows_when_others_finish_and_shrinks_when_short():
    """Two 1-CPU trials on 2 CPUs keep 1 each; when one ends the other may take both; over, it shrinks."""
    runner = Runner(trials(2), cpus=2)
    scheduler = with_base(runner)
    allocate = DistributeResources()
    assert allocate(runner, runner.trials[0], {"training_iteration": 1}, scheduler) == PGF(
        [{"CPU": 1, "GPU": 0}]
    )
    runner.trials[1].status = TERMINATED
    assert allocate(runner, runner.trials[0], {"training_iteration": 2}, scheduler) == PGF(
        [{"CPU": 2, "GPU": 0}]
    )
    runner.trials[1].status = RUNNING
    runner.trials[0].resources = PGF([{"CPU": 2}])  # 3 CPUs held on a 2-CPU node
    assert allocate(runner, runner.trials[0], {"training_iteration": 3}, scheduler) == PGF(
        [{"CPU": 1, "GPU": 0}]
    )


def test_nothing_before_the_first_iteration_and_gpus_grow_by_whole_gpus():
    """No change before a trial has trained; a GPU trial grows by 1 GPU at a time (its unit)."""
    runner = Runner(trials(2, cpus=1, gpus=1), cpus=8, gpus=4)
    scheduler = with_base(runner)
    allocate = DistributeResources()
    assert allocate(runner, runner.trials[0], {"training_iteration": 0}, scheduler) is None
    assert allocate(runner, runner.trials[0], {"training_iteration": 1}, scheduler) == PGF(
        [{"CPU": 1, "GPU": 2}]
    )


def test_increase_by_times_reserve_and_add_bundles():
    """increase_by_times caps the units; reserve_resources holds CPUs back; add_bundles adds bundles."""
    runner = Runner(trials(1), cpus=8)
    scheduler = with_base(runner)
    result = {"training_iteration": 1}
    capped = DistributeResources(increase_by={"CPU": 2}, increase_by_times=2)
    assert capped(runner, runner.trials[0], result, scheduler) == PGF([{"CPU": 5, "GPU": 0}])
    reserved = DistributeResources(reserve_resources={"CPU": 5})
    assert reserved(runner, runner.trials[0], result, scheduler) == PGF([{"CPU": 3, "GPU": 0}])
    bundles = DistributeResources(add_bundles=True)(runner, runner.trials[0], result, scheduler)
    assert bundles == PGF([{"CPU": 1}] * 8)


def test_top_job_gets_the_free_resources():
    """DistributeResourcesToTopJob gives free CPUs to the best trial by the metric; the others keep theirs."""
    runner = Runner(trials(2), cpus=6)
    runner.trials[0].last_result, runner.trials[1].last_result = {"acc": 0.2}, {"acc": 0.9}
    scheduler = with_base(runner)
    allocate = DistributeResourcesToTopJob(metric="acc", mode="max")
    assert allocate(runner, runner.trials[0], {"training_iteration": 1}, scheduler) == PGF(
        [{"CPU": 1, "GPU": 0}]
    )
    assert allocate(runner, runner.trials[1], {"training_iteration": 1}, scheduler) == PGF(
        [{"CPU": 5, "GPU": 0}]
    )
    with pytest.raises(ValueError, match="metric parameter cannot be None"):
        DistributeResourcesToTopJob()(runner, runner.trials[0], {"training_iteration": 1}, scheduler)


# -- ResourceChangingScheduler ------------------------------------------------------------------------


def test_new_resources_pause_the_trial_and_apply_when_it_is_chosen_again():
    """CONTINUE with new resources becomes PAUSE; choose_trial_to_run gives the paused trial its resources."""
    runner = Runner(trials(1), cpus=4)
    scheduler = with_base(runner, ResourceChangingScheduler(FIFOScheduler(), lambda r, t, res, s: {"cpu": 3}))
    trial = runner.trials[0]
    assert scheduler.on_trial_result(runner, trial, {"training_iteration": 1}) == PAUSE
    assert trial.resources == PGF([{"CPU": 1}])  # unchanged while it runs
    trial.status = PAUSED
    assert scheduler.choose_trial_to_run(runner) is trial and trial.resources == PGF([{"CPU": 3}])
    trial.status = RUNNING
    assert scheduler.on_trial_result(runner, trial, {"training_iteration": 2}) == CONTINUE  # the same again


def test_the_base_schedulers_decisions_stand_and_base_resources_must_match():
    """A STOP from the base scheduler is not turned into a pause; trials must start alike."""

    class Stops(FIFOScheduler):
        def on_trial_result(self, controller, trial, result):
            return STOP

    runner = Runner(trials(1), cpus=4)
    scheduler = with_base(runner, ResourceChangingScheduler(Stops(), lambda r, t, res, s: {"cpu": 3}))
    assert scheduler.on_trial_result(runner, runner.trials[0], {"training_iteration": 1}) == STOP
    odd = Trial(trial_id="odd", config={}, resources=PGF([{"CPU": 2}]))
    with pytest.raises(RuntimeError, match="varying base resources"):
        scheduler.on_trial_add(runner, odd)


# -- HyperBandForBOHB ------------------------------------------------------------------------------------


def report(scheduler, runner, trial, it):
    action = scheduler.on_trial_result(
        runner, trial, {"training_iteration": it, "score": int(trial.trial_id[1:])}
    )
    trial.status = {PAUSE: PAUSED, STOP: TERMINATED}.get(action, trial.status)
    return action


def test_bohb_fills_the_largest_bracket_first_and_pauses_before_it_is_full():
    """max_t=9, eta=3: the first bracket is s=2 (9 trials, milestone 1); its first trial pauses there."""
    scheduler = HyperBandForBOHB(metric="score", mode="max", max_t=9, reduction_factor=3)
    runner = Runner([])
    first = Trial(trial_id="t0", config={}, status=RUNNING)
    runner.trials.append(first)
    scheduler.on_trial_add(runner, first)
    assert scheduler._hyperbands[0][0].n0 == 9
    assert report(scheduler, runner, first, 1) == PAUSE


def test_bohb_halves_when_nothing_runs_and_resumes_the_best():
    """Eight trials of a 9-trial bracket all paused at the milestone and none running: choosing halves
    the bracket; the best third resumes, the rest are popped to stop."""
    scheduler = HyperBandForBOHB(metric="score", mode="max", max_t=9, reduction_factor=3)
    runner = Runner(trials(8, status=RUNNING))
    for trial in runner.trials:
        scheduler.on_trial_add(runner, trial)
    for trial in runner.trials:
        assert report(scheduler, runner, trial, 1) == PAUSE
    assert scheduler.pop_trials_to_stop() == []
    chosen = scheduler.choose_trial_to_run(runner)
    assert chosen.trial_id in ("t5", "t6", "t7")
    assert {t.trial_id for t in scheduler.pop_trials_to_stop()} == {f"t{i}" for i in range(5)}
    chosen.status = RUNNING
    assert scheduler.choose_trial_to_run(runner).trial_id in (
        "t5",
        "t6",
        "t7",
    )  # the other two wait their turn
