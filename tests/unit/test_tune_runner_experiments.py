"""The trial runner's core with several experiments and per-trial resources: each trial follows its
experiment's rules and holds its own resources; should_checkpoint; names from creators."""

from __future__ import annotations

import pytest
from test_tune_runner_core import Suggestions, make, result, started, statuses

from greenroom.tune.error import TuneError
from greenroom.tune.execution.experiment_settings import ExperimentSettings
from greenroom.tune.execution.instructions import (
    ContinueTrial,
    FailExperiment,
    SaveCheckpoint,
    StartTrial,
    StopTrial,
    TrialAdded,
    TrialCompleted,
    TrialRetrying,
)
from greenroom.tune.execution.runner_state import RunnerState
from greenroom.tune.experiment.trial import ERROR, PAUSED, PENDING, RUNNING, TERMINATED
from greenroom.tune.resources import PlacementGroupFactory as PGF
from greenroom.tune.schedulers.trial_scheduler import FIFOScheduler
from greenroom.tune.search.search_generator import TrialSuggestion
from greenroom.tune.stopper import dict_stopper


def two_experiments(**first) -> RunnerState:
    """Experiments "a" (class trainable "A", 1 CPU) and "b" (function "B", 2 CPUs, stops at x >= 1)
    on 3 CPUs; suggestions a0, b0, a1, b1 alternate between them."""
    a = ExperimentSettings(name="a", path="/a", trainable_name="A", is_class=True, **first)
    b = ExperimentSettings(name="b", path="/b", trainable_name="B", resources=PGF([{"CPU": 2}]),
                           stop=dict_stopper({"x": 1}))  # fmt: skip
    search = Suggestions(0)
    search.queue = [TrialSuggestion(f"{e}{i}", {"i": i}, {}, f"{i}", e) for i in range(2) for e in "ab"]
    return RunnerState(experiments=[a, b], search_alg=search, scheduler=FIFOScheduler(), stopper=None,
                       cluster={"CPU": 3}, max_pending=10)  # fmt: skip


def test_each_trial_belongs_to_its_experiment_and_holds_its_resources():
    """Trials are named and placed by their experiment and start while their own resources fit."""
    core = two_experiments()
    out = list(core.start_trials())
    a0, b0, a1, b1 = core.trials
    assert [t.experiment_name for t in core.trials] == ["a", "b", "a", "b"]
    assert (a0.path, b0.path, b0.trial_name) == ("/a/A_a0_00000_0", "/b/B_b0_00001_0", "B_b0")
    assert out[4:] == [StartTrial(a0, None), StartTrial(b0, None)]  # 1 + 2 CPUs: a1 waits for room
    assert statuses(core) == [RUNNING, RUNNING, PENDING, PENDING]
    list(core.on_result(a0, {"__no_result__": True}))
    assert list(core.start_trials()) == [StartTrial(a1, None)]  # a1 fits in a0's CPU; b1 needs 2


def test_each_experiment_keeps_its_rules():
    """b's dict stop ends its trial at x >= 1; a's class trainable saves at its checkpoint_frequency."""
    core = two_experiments(checkpoint_frequency=1)
    list(core.start_trials())
    a0, b0 = core.trials[:2]
    assert list(core.on_result(b0, result(1, x=1)))[-1] == TrialCompleted(b0)
    assert list(core.on_result(a0, result(1, x=1)))[-1] == SaveCheckpoint(a0)  # a has no such stop


def test_should_checkpoint_saves_a_class_trainable_and_not_a_function():
    """should_checkpoint=True: a Trainable class saves before the decision; a function trainable cannot."""
    core, (t0, *_) = started(is_class=True)
    assert list(core.on_result(t0, result(1, should_checkpoint=True)))[-1] == SaveCheckpoint(t0)
    assert list(core.on_result(t0, result(2, should_checkpoint=False)))[-1] == ContinueTrial(t0)
    core, (t0, *_) = started(is_class=False)
    assert list(core.on_result(t0, result(1, should_checkpoint=True)))[-1] == ContinueTrial(t0)


def test_resources_that_depend_on_the_config():
    """A resources function sizes each trial by its config; one that can never fit is a TuneError."""
    core = make(3, cpus=4, resources=lambda config: {"cpu": config["x"] + 1})
    list(core.start_trials())
    assert [t.resources for t in core.trials] == [PGF([{"CPU": 1}]), PGF([{"CPU": 2}]), PGF([{"CPU": 3}])]
    assert statuses(core) == [RUNNING, RUNNING, PENDING]  # 1 + 2 of 4 CPUs: the 3-CPU trial waits
    core = make(1, cpus=2, resources=lambda config: {"cpu": 8})
    with pytest.raises(TuneError, match="no trial could ever start"):
        list(core.start_trials())


def test_a_trial_whose_new_resources_exceed_the_node_stalls_with_a_clear_error():
    """A paused trial given more than the node (by a ResourceChangingScheduler) fails the run, naming it."""
    core, (t0,) = started(1, cpus=2)
    t0.status = PAUSED
    core.trials[0].resources = PGF([{"CPU": 4}])
    assert list(core.start_trials()) == [FailExperiment(
        "trial train_t0 asks for {'CPU': 4}, more than this node's {'CPU': 2}, so it can never start; "
        "keep resources_allocation_function within the node"
    )]  # fmt: skip


def test_trial_name_and_dirname_creators():
    """trial_name_creator names the trial; trial_dirname_creator names its directory, not a path."""
    core = make(
        1, trial_name_creator=lambda t: f"n{t.trial_id}", trial_dirname_creator=lambda t: f"d{t.config['x']}"
    )
    (added,) = [i for i in core.start_trials() if isinstance(i, TrialAdded)]
    assert (added.trial.trial_name, str(added.trial), added.trial.path) == ("nt0", "nt0", "/exp/d0")
    core = make(1, trial_dirname_creator=lambda t: "a/b")
    with pytest.raises(ValueError, match="trial_dirname_creator returned 'a/b'"):
        list(core.start_trials())


def test_retries_count_per_experiment():
    """max_failures is the trial's experiment's: a's trials retry once, b's none."""
    core = two_experiments(max_failures=1)
    list(core.start_trials())
    a0, b0 = core.trials[:2]
    assert list(core.on_error(a0, "boom"))[-1] == TrialRetrying(a0)
    assert list(core.on_error(b0, "boom"))[0] == StopTrial(b0) and b0.status == ERROR
    assert a0.status == PENDING and TERMINATED not in statuses(core)
