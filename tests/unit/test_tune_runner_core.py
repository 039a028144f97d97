"""The trial runner's core (RunnerState) and its rules: events in, instructions out, no processes or loop."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from greenroom.tune.checkpoint import Checkpoint
from greenroom.tune.error import TuneError
from greenroom.tune.execution.capacity import trials_that_fit
from greenroom.tune.execution.experiment_settings import ExperimentSettings
from greenroom.tune.execution.instructions import (
    ContinueTrial,
    CopyCheckpoint,
    DeleteCheckpoints,
    FailExperiment,
    ResultRecorded,
    RaiseTrialError,
    SaveCheckpoint,
    StartTrial,
    StopExperiment,
    StopTrial,
    TrialAdded,
    TrialCheckpointed,
    TrialCompleted,
    TrialErrored,
    TrialExploited,
    TrialFailed,
    TrialPaused,
    TrialRemoved,
    TrialRetrying,
)
from greenroom.tune.execution.retention import checkpoints_to_delete
from greenroom.tune.execution.runner_state import RunnerState
from greenroom.tune.experiment.trial import ERROR, PAUSED, PENDING, RUNNING, TERMINATED, Trial
from greenroom.tune.resources import PlacementGroupFactory
from greenroom.tune.schedulers.trial_scheduler import FIFOScheduler, TrialScheduler
from greenroom.tune.search.search_generator import SearchAlgorithm, TrialSuggestion

CONTINUE, PAUSE, STOP = TrialScheduler.CONTINUE, TrialScheduler.PAUSE, TrialScheduler.STOP


class Suggestions(SearchAlgorithm):
    """Suggests trials t0..t{n-1}, then is finished (unless told it never is); records what it hears."""

    def __init__(self, n: int, finishes: bool = True) -> None:
        self.queue = [TrialSuggestion(f"t{i}", {"x": i}, {"x": i}, f"{i}_x={i}") for i in range(n)]
        self.finishes = finishes
        self.results: list[str] = []
        self.completed: list[tuple[str, bool]] = []

    def add_configurations(self, param_space, num_samples=1, seed=None):
        pass

    def next_trial(self):
        return self.queue.pop(0) if self.queue else None

    def is_finished(self):
        return self.finishes and not self.queue

    def on_trial_result(self, trial_id, result):
        self.results.append(trial_id)

    def on_trial_complete(self, trial_id, result=None, error=False):
        self.completed.append((trial_id, error))


class Scripted(FIFOScheduler):
    """FIFO, except that ``decide(core, trial, result)`` answers results and ``choose`` can refuse all."""

    def __init__(self, decide=None, choose: bool = True) -> None:
        self.decide = decide or (lambda core, trial, result: CONTINUE)
        self.choose = choose
        self.to_stop: list[Trial] = []
        self.removed: list[Trial] = []
        self.errored: list[Trial] = []

    def on_trial_result(self, controller, trial, result):
        return self.decide(controller, trial, result)

    def on_trial_error(self, controller, trial):
        self.errored.append(trial)

    def on_trial_remove(self, controller, trial):
        self.removed.append(trial)

    def choose_trial_to_run(self, controller):
        return super().choose_trial_to_run(controller) if self.choose else None

    def pop_trials_to_stop(self):
        out, self.to_stop = self.to_stop, []
        return out


class Stopper:
    """Stops trials whose result has ``x`` >= ``at``; ``stop_all`` as told."""

    def __init__(self, at: int = 10**9, all: bool = False) -> None:
        self.at, self.all = at, all

    def __call__(self, trial_id, result):
        return result.get("x", 0) >= self.at

    def stop_all(self):
        return self.all


SETTINGS = ("is_class", "max_failures", "checkpoint_frequency", "checkpoint_at_end", "keep", "resources",
            "trial_name_creator", "trial_dirname_creator")  # fmt: skip


def make(n: int = 3, *, cpus: float = 2, request: dict | None = None, **kwargs) -> RunnerState:
    """A core over one experiment "exp" of trainable "train"; ExperimentSettings fields go to it."""
    settings = {k: kwargs.pop(k) for k in SETTINGS if k in kwargs}
    settings.setdefault("resources", PlacementGroupFactory([request or {"CPU": 1}]))
    kwargs.setdefault("search_alg", Suggestions(n))
    kwargs.setdefault("scheduler", FIFOScheduler())
    kwargs.setdefault("stopper", None)
    kwargs.setdefault("max_pending", 10)
    experiment = ExperimentSettings(name="exp", path="/exp", trainable_name="train", **settings)
    return RunnerState(experiments=[experiment], cluster={"CPU": cpus}, **kwargs)


def started(n: int = 3, **kwargs) -> tuple[RunnerState, list[Trial]]:
    core = make(n, **kwargs)
    list(core.start_trials())
    return core, core.trials


def result(i: int = 1, **extra) -> dict:
    return {"training_iteration": i, "time_total_s": float(i), **extra}


def statuses(core: RunnerState) -> list[str]:
    return [t.status for t in core.trials]


def keep(num: int | None, attr: str | None = None, order: str = "max") -> SimpleNamespace:
    return SimpleNamespace(num_to_keep=num, checkpoint_score_attribute=attr, checkpoint_score_order=order)


# -- starting --------------------------------------------------------------------------------------


def test_start_adds_the_searchers_trials_then_starts_what_fits():
    """Three suggestions, room for two: all are added, the first two start, the third waits."""
    core = make(3, cpus=2)
    out = list(core.start_trials())
    t0, t1, t2 = core.trials
    assert out == [TrialAdded(t0), TrialAdded(t1), TrialAdded(t2), StartTrial(t0, None), StartTrial(t1, None)]
    assert statuses(core) == [RUNNING, RUNNING, PENDING]
    assert t0.path == "/exp/train_t0_00000_0_x=0" and t0.trial_name == "train_t0"
    assert not core.done


def test_instructions_are_decided_one_at_a_time():
    """The core decides the next instruction only when asked: callbacks see trials as they are then."""
    core = make(3, max_pending=1)
    steps = core.start_trials()
    assert next(steps) == TrialAdded(core.trials[0]) and len(core.trials) == 1
    assert next(steps) == StartTrial(core.trials[0], None)
    assert len(core.trials) == 1  # the next suggestion is asked for only after the start was carried out
    assert next(steps) == TrialAdded(core.trials[1])


def test_max_pending_bounds_the_trials_waiting_to_start():
    """With max_pending=1 the searcher is asked for a trial only when none is waiting to start."""
    core = make(5, cpus=2, max_pending=1)
    assert [type(i) for i in core.start_trials()] == [TrialAdded, StartTrial, TrialAdded, StartTrial, TrialAdded]
    assert list(core.start_trials()) == []  # one waits already
    list(core.on_result(core.trials[0], {"__no_result__": True}))
    assert list(core.start_trials()) == [StartTrial(core.trials[2], None), TrialAdded(core.trials[3])]
    assert statuses(core) == [TERMINATED, RUNNING, RUNNING, PENDING]


def test_max_concurrent_trials_caps_the_running_trials():
    """max_concurrent_trials=1 on a node with room for four starts one trial at a time."""
    core, trials = started(3, cpus=4, max_concurrent=1)
    assert statuses(core) == [RUNNING, PENDING, PENDING]


def test_resumed_trials_are_added_to_the_scheduler():
    """Trials of a resumed experiment get the experiment's resources and the scheduler's on_trial_add."""
    added = []

    class Recording(FIFOScheduler):
        def on_trial_add(self, controller, trial):
            added.append(trial)

    old = Trial(trial_id="old", config={})
    core = make(0, scheduler=Recording(), trials=[old], request={"CPU": 2})
    assert added == [old] and old.resources == PlacementGroupFactory([{"CPU": 2}]) and core.trials == [old]
    assert old.experiment_name == "exp"


# -- results and the scheduler's decisions ---------------------------------------------------------


def test_a_result_is_recorded_then_the_trial_continues():
    """CONTINUE: the result (with config and tag) becomes last_result and the trial is asked for more."""
    core, (t0, *_) = started()
    out = list(core.on_result(t0, result(1, x=5)))
    assert out == [ResultRecorded(t0, t0.last_result), ContinueTrial(t0)]
    assert t0.last_result["config"] == {"x": 0} and t0.last_result["experiment_tag"] == "0_x=0"
    assert t0.results == [t0.last_result] and core.search_alg.results == ["t0"]


def test_a_returned_function_completes_the_trial():
    """The function trainable returned: the trial stops and is TERMINATED, the searcher is told."""
    core, (t0, *_) = started()
    assert list(core.on_result(t0, {"__no_result__": True})) == [StopTrial(t0), TrialCompleted(t0)]
    assert t0.status == TERMINATED and core.search_alg.completed == [("t0", False)]


@pytest.mark.parametrize("how", ["done", "stopper"])
def test_done_or_the_stopper_completes_the_trial(how):
    """A result with done=True, or one the stopper stops on, completes the trial, unasked."""
    asked = []
    scheduler = Scripted(lambda core, trial, r: asked.append(trial) or CONTINUE)
    core, (t0, *_) = started(scheduler=scheduler, stopper=Stopper(at=3))
    r = result(1, done=True) if how == "done" else result(1, x=3)
    out = list(core.on_result(t0, r))
    assert out == [ResultRecorded(t0, t0.last_result), StopTrial(t0), TrialCompleted(t0)]
    assert t0.status == TERMINATED and asked == []


@pytest.mark.parametrize(
    ("decision", "tail", "status"),
    [(CONTINUE, [ContinueTrial], RUNNING), (PAUSE, [StopTrial, TrialPaused], PAUSED),
     (STOP, [StopTrial, TrialCompleted], TERMINATED)],
)  # fmt: skip
def test_scheduler_decisions(decision, tail, status):
    """The scheduler's CONTINUE, PAUSE and STOP continue, pause or complete a function trainable's trial."""
    core, (t0, *_) = started(scheduler=Scripted(lambda core, trial, r: decision))
    out = list(core.on_result(t0, result()))
    assert out[0] == ResultRecorded(t0, t0.last_result)
    assert [type(i) for i in out[1:]] == tail and all(i.trial is t0 for i in out[1:])
    assert t0.status == status


def test_pausing_a_class_trainable_saves_it_first_and_it_resumes_from_that_checkpoint():
    """PAUSE on a Trainable class: save, stop, PAUSED; started again later from the saved checkpoint."""
    core, (t0, t1) = started(2, cpus=1, is_class=True, scheduler=Scripted(lambda core, trial, r: PAUSE))
    assert list(core.on_result(t0, result(4)))[-1] == SaveCheckpoint(t0)
    assert t0.status == RUNNING  # nothing decided until the checkpoint is there
    assert list(core.checkpoint_saved(t0, "/c/4")) == [TrialCheckpointed(t0), StopTrial(t0), TrialPaused(t0)]
    assert t0.status == PAUSED and t0.checkpoint == Checkpoint("/c/4") and t0.checkpoint_iteration == 4
    assert list(core.start_trials()) == [StartTrial(t1, None)]
    list(core.on_result(t1, {"__no_result__": True}))
    assert list(core.start_trials()) == [StartTrial(t0, Checkpoint("/c/4"))]


def test_checkpoint_frequency_saves_before_the_scheduler_decides():
    """checkpoint_frequency=2: at iteration 2 the trial saves, and the scheduler then sees that checkpoint."""
    seen = []
    scheduler = Scripted(lambda core, trial, r: seen.append(trial.checkpoint) or CONTINUE)
    core, (t0, *_) = started(is_class=True, checkpoint_frequency=2, scheduler=scheduler)
    assert list(core.on_result(t0, result(1)))[-1] == ContinueTrial(t0)
    assert list(core.on_result(t0, result(2)))[-1] == SaveCheckpoint(t0)
    assert list(core.checkpoint_saved(t0, "/c/2")) == [TrialCheckpointed(t0), ContinueTrial(t0)]
    assert seen == [None, Checkpoint("/c/2")]


def test_checkpoint_at_end_saves_before_completing():
    """checkpoint_at_end: a completing Trainable saves, then stops and is TERMINATED."""
    core, (t0, *_) = started(is_class=True, checkpoint_at_end=True)
    assert list(core.on_result(t0, result(1, done=True)))[-1] == SaveCheckpoint(t0)
    assert list(core.checkpoint_saved(t0, "/c/end")) == [TrialCheckpointed(t0), StopTrial(t0), TrialCompleted(t0)]
    assert t0.status == TERMINATED and t0.checkpoint == Checkpoint("/c/end")


def test_scheduler_stops_waiting_trials():
    """Waiting trials the scheduler pops to stop (HyperBand's losers) end; it hears on_trial_remove."""
    scheduler = Scripted()
    core, (t0, t1, t2) = started(3, cpus=1, scheduler=scheduler)
    scheduler.to_stop = [t1, t0]  # t0 is running: not the scheduler's to remove
    assert list(core.on_result(t0, result())) == [ResultRecorded(t0, t0.last_result), TrialRemoved(t1),
                                                  ContinueTrial(t0)]  # fmt: skip
    assert statuses(core) == [RUNNING, TERMINATED, PENDING] and scheduler.removed == [t1]
    assert ("t1", False) in core.search_alg.completed


# -- PBT exploits ----------------------------------------------------------------------------------


def test_exploit_into_the_running_trial_restarts_it_from_a_copy():
    """PBT exploits into the reporting trial: stop it, copy the source's checkpoint, restart from it."""
    def decide(core, trial, r):
        core.request_exploit(trial, source, {"x": 99})
        return TrialScheduler.NOOP

    core, (t0, source, *_) = started(scheduler=Scripted(decide))
    source.checkpoint, source.checkpoint_iteration, source.checkpoint_time = Checkpoint("/s/7"), 7, 7.0
    out = list(core.on_result(t0, result(1)))
    target = "/exp/train_t0_00000_0_x=0/exploit_000001"
    assert out == [ResultRecorded(t0, t0.last_result), StopTrial(t0), CopyCheckpoint("/s/7", target),
                   TrialExploited(t0, source), StartTrial(t0, Checkpoint(target))]  # fmt: skip
    assert t0.status == RUNNING and t0.config == {"x": 99}
    assert (t0.checkpoint_iteration, t0.checkpoint_time) == (7, 7.0)


def test_exploit_into_a_paused_trial_happens_at_once_and_it_resumes_later():
    """PBT exploits into a PAUSED trial: copy and config now; it stays PAUSED, later starts from the copy."""
    pause_t1 = Scripted(lambda core, trial, r: PAUSE if trial.trial_id == "t1" else CONTINUE)
    core, (t0, t1) = started(2, scheduler=pause_t1)
    list(core.on_result(t1, result(1)))
    assert t1.status == PAUSED
    t0.checkpoint = Checkpoint("/s/t0")

    def exploit(core, trial, r):
        core.request_exploit(t1, t0, {"x": 42})
        return CONTINUE

    core.scheduler.decide = exploit
    out = list(core.on_result(t0, result(2)))
    target = "/exp/train_t1_00001_1_x=1/exploit_000001"
    assert out == [ResultRecorded(t0, t0.last_result), CopyCheckpoint("/s/t0", target),
                   TrialExploited(t1, t0), ContinueTrial(t0)]  # fmt: skip
    assert t1.status == PAUSED and t1.config == {"x": 42}
    list(core.on_result(t0, {"__no_result__": True}))
    assert list(core.start_trials()) == [StartTrial(t1, Checkpoint(target))]


def test_exploit_into_a_pending_trial_waits_for_its_first_result():
    """An exploit requested for a trial that has not run yet is carried out when it first reports."""
    core, (t0, t1, t2) = started(3, cpus=2)
    core.request_exploit(t2, t0, {"x": 7})
    list(core.on_result(t0, {"__no_result__": True}))
    assert list(core.start_trials()) == [StartTrial(t2, None)]
    out = list(core.on_result(t2, result(1)))
    assert out[1:] == [StopTrial(t2), TrialExploited(t2, t0), StartTrial(t2, None)]  # t0 had no checkpoint
    assert t2.config == {"x": 7}


# -- failures --------------------------------------------------------------------------------------


def test_a_failed_trial_retries_until_max_failures_then_errors():
    """max_failures=2: two failures send the trial back to PENDING, the third puts it in ERROR."""
    scheduler = Scripted()
    core, (t0, *_) = started(1, max_failures=2, scheduler=scheduler)
    t0.checkpoint = Checkpoint("/c/1")
    for n in (1, 2):
        out = list(core.on_error(t0, f"boom {n}"))
        assert out == [StopTrial(t0), TrialFailed(t0, f"boom {n}"), TrialRetrying(t0)]
        assert t0.status == PENDING and t0.num_failures == n
        assert list(core.start_trials()) == [StartTrial(t0, Checkpoint("/c/1"))]
    assert list(core.on_error(t0, "boom 3")) == [StopTrial(t0), TrialFailed(t0, "boom 3"), TrialErrored(t0)]
    assert t0.status == ERROR and t0.error == "boom 3"
    assert scheduler.errored == [t0] and core.search_alg.completed == [("t0", True)]


def test_max_failures_minus_one_retries_forever():
    """max_failures=-1: a trial is retried however often it fails."""
    core, (t0,) = started(1, max_failures=-1)
    for _ in range(50):
        assert list(core.on_error(t0, "boom"))[-1] == TrialRetrying(t0)
        list(core.start_trials())
    assert t0.status == RUNNING and t0.num_failures == 50


def test_fail_fast_stops_everything_and_keeps_the_error_as_the_trials():
    """fail_fast=True: the first trial in ERROR stops the others; the run ends without raising (Ray)."""
    core, (t0, t1, t2) = started(3, cpus=2, fail_fast=True)
    out = list(core.on_error(t0, "Traceback: boom"))
    assert out == [StopTrial(t0), TrialFailed(t0, "Traceback: boom"), TrialErrored(t0), StopTrial(t1),
                   StopExperiment("trial train_t0 failed and fail_fast is set")]  # fmt: skip
    assert statuses(core) == [ERROR, TERMINATED, TERMINATED] and core.done
    assert t0.error == "Traceback: boom"


def test_fail_fast_raise_stops_everything_then_reraises():
    """fail_fast="raise": the same stop, then RaiseTrialError for the shell to raise the trial's exception."""
    core, (t0, t1, t2) = started(3, cpus=2, fail_fast="raise")
    out = list(core.on_error(t1, "boom"))
    assert out[-3:] == [StopTrial(t0), StopExperiment("trial train_t1 failed and fail_fast is set"),
                        RaiseTrialError(t1)]  # fmt: skip
    assert statuses(core) == [TERMINATED, ERROR, TERMINATED]


def test_fail_fast_waits_for_retries_to_run_out():
    """A failure that will be retried is not the experiment's failure, even with fail_fast."""
    core, (t0,) = started(1, fail_fast=True, max_failures=1)
    assert list(core.on_error(t0, "once"))[-1] == TrialRetrying(t0) and not core.done


def test_fail_stops_every_trial_then_fails_the_experiment():
    """fail(message) (the shell found the trials stalled): StopTrial for each running trial, then FailExperiment."""
    core, (t0, t1, t2) = started(3, cpus=2)
    out = list(core.fail("stalled: no group fits"))
    assert out == [StopTrial(t0), StopTrial(t1), StopExperiment("the experiment cannot go on"),
                   FailExperiment("stalled: no group fits")]  # fmt: skip
    assert core.done and RUNNING not in statuses(core)


# -- the end of the experiment ---------------------------------------------------------------------


def test_finished_when_nothing_waits_and_the_search_is_finished():
    """Once every trial has ended and the searcher is finished, a turn ends the experiment quietly."""
    core, (t0,) = started(1)
    list(core.on_result(t0, {"__no_result__": True}))
    assert list(core.start_trials()) == [] and core.done


def test_stall_when_the_scheduler_chooses_none_of_the_waiting_trials():
    """Nothing runs and the scheduler chooses none of the waiting trials: a TuneError, at once."""
    core = make(2, scheduler=Scripted(choose=False))
    out = list(core.start_trials())
    assert out[-1] == FailExperiment(
        "no trial is running and none can start: the search algorithm offers no new trial and the "
        "scheduler chose none of ['train_t0', 'train_t1']"
    )
    assert core.done


def test_stall_when_the_searcher_offers_nothing_but_is_not_finished():
    """Nothing runs, nothing waits and the unfinished searcher suggests nothing: a stall, not a hang."""
    core = make(0, search_alg=Suggestions(0, finishes=False))
    assert list(core.start_trials()) == [FailExperiment(
        "no trial is running and none can start: the search algorithm offers no new trial and the "
        "scheduler chose none of []"
    )]  # fmt: skip


def test_no_stall_while_a_trial_runs():
    """A turn that starts nothing while a trial runs is not a stall."""
    core, (t0, t1) = started(2, cpus=1)
    assert list(core.start_trials()) == [] and not core.done


def test_the_stopper_stops_everything():
    """When the stopper's stop_all says so (a TimeoutStopper: the time budget), every trial ends, and the run."""
    core, (t0, t1, t2) = started(3, cpus=2, stopper=Stopper(all=True))
    assert list(core.check_stop()) == [StopTrial(t0), StopTrial(t1), StopExperiment("the stopper ended the experiment")]
    assert statuses(core) == [TERMINATED] * 3 and core.done


def test_without_a_stop_nothing_stops():
    """With no stopper, or one whose stop_all says no, check_stop does nothing."""
    for stopper in (None, Stopper()):
        core, _ = started(stopper=stopper)
        assert list(core.check_stop()) == [] and not core.done


def test_an_interrupt_leaves_the_experiment_resumable():
    """stop_everything(resumable=True): running trials become PENDING, paused ones stay PAUSED."""
    core, (t0, t1, t2) = started(3, cpus=2, scheduler=Scripted(lambda core, trial, r: PAUSE))
    list(core.on_result(t0, result()))
    list(core.start_trials())
    assert statuses(core) == [PAUSED, RUNNING, RUNNING]
    assert list(core.stop_everything("interrupted", resumable=True))[-1] == StopExperiment("interrupted")
    assert statuses(core) == [PAUSED, PENDING, PENDING]


# -- checkpoint retention --------------------------------------------------------------------------


def test_num_to_keep_deletes_the_oldest_checkpoints():
    """num_to_keep=2 without a score: each checkpoint reported beyond two deletes the oldest."""
    core, (t0, *_) = started(keep=keep(2))
    heads = [list(core.on_result(t0, result(i, __checkpoint__=f"/c/{i}")))[:2] for i in range(1, 5)]
    assert all(head[0] == TrialCheckpointed(t0) for head in heads)
    assert [head[1] for head in heads[2:]] == [DeleteCheckpoints(("/c/1",)), DeleteCheckpoints(("/c/2",))]
    assert all(isinstance(head[1], ResultRecorded) for head in heads[:2]) and t0.checkpoint == Checkpoint("/c/4")


def test_retention_by_score_keeps_the_best():
    """checkpoint_score_attribute with order max keeps the highest scores, min the lowest."""
    kept = [("a", {"acc": 0.5}), ("b", {"acc": 0.9}), ("c", {"acc": 0.1}), ("d", {"acc": 0.3})]
    assert checkpoints_to_delete(kept, 2, "acc", "max") == [("c", {"acc": 0.1}), ("a", {"acc": 0.5})]
    assert checkpoints_to_delete(kept, 2, "acc", "min") == [("b", {"acc": 0.9}), ("a", {"acc": 0.5})]


def test_retention_never_deletes_the_latest():
    """The latest checkpoint stays even with the worst score: a restart resumes from it."""
    kept = [("a", {"acc": 0.9}), ("b", {"acc": 0.1})]
    assert checkpoints_to_delete(kept, 1, "acc", "max") == [("a", {"acc": 0.9})]


def test_retention_of_nested_and_missing_scores():
    """A nested score is read with '/'; a missing one counts as 0."""
    kept = [("a", {"m": {"acc": 0.5}}), ("b", {}), ("c", {"m": {"acc": 0.7}})]
    assert checkpoints_to_delete(kept, 2, "m/acc") == [("b", {})]


def test_retention_without_num_to_keep_keeps_everything():
    """num_to_keep None or 0 deletes nothing."""
    kept = [("a", {}), ("b", {}), ("c", {})]
    assert checkpoints_to_delete(kept, None) == [] and checkpoints_to_delete(kept, 0) == []


# -- resources -------------------------------------------------------------------------------------


@pytest.mark.parametrize(("request_", "total", "fit"), [
    ({"GPU": 0.5}, {"CPU": 4, "GPU": 1}, 2),  # 0.5 + 0.5 is exactly 1
    ({"CPU": 0.1}, {"CPU": 0.3}, 3),  # float division would say 2.9999
    ({"CPU": 1, "GPU": 1}, {"CPU": 8, "GPU": 2}, 2),  # the scarcest resource decides
    ({"CPU": 1, "memory": 3 * 2**30}, {"CPU": 8, "memory": 10 * 2**30}, 3),
    ({"CPU": 1, "lic": 1}, {"CPU": 8, "lic": 2}, 2),
])  # fmt: skip
def test_trials_that_fit_in_fixed_point(request_, total, fit):
    """How many trials fit: the fewest whole requests any resource holds, counted in fixed point."""
    assert trials_that_fit(request_, total) == fit


def test_max_concurrent_caps_what_fits():
    """max_concurrent caps the count; None or 0 leaves it as the resources allow."""
    assert trials_that_fit({"CPU": 1}, {"CPU": 8}, 3) == 3
    assert trials_that_fit({"CPU": 1}, {"CPU": 8}, 0) == 8 == trials_that_fit({"CPU": 1}, {"CPU": 8}, None)


@pytest.mark.parametrize(
    ("request_", "short"), [({"GPU": 8}, "'GPU': 8.0"), ({"CPU": 1, "lic": 1}, "'lic': 1.0")]
)
def test_a_trial_that_can_never_fit_raises_naming_what_is_short(request_, short):
    """A request beyond the node's totals raises TuneError saying what is short and what to change."""
    with pytest.raises(TuneError, match="no trial could ever start") as info:
        make(1, request=request_, cpus=4)
    assert f"(short of {{{short}}})" in str(info.value) and "Lower resources_per_trial" in str(info.value)
