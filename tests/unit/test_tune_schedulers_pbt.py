"""PopulationBasedTraining: quantiles, exploits, explore, intervals, synch mode; with a fake runner."""

import random

import pytest

from greenroom.tune.experiment.trial import PAUSED, PENDING, RUNNING, TERMINATED, Trial
from greenroom.tune.schedulers import PopulationBasedTraining, TrialScheduler
from greenroom.tune.schedulers.pbt import explore

CONTINUE, PAUSE, STOP, NOOP = (TrialScheduler.CONTINUE, TrialScheduler.PAUSE, TrialScheduler.STOP,
                               TrialScheduler.NOOP)


class FakeController:
    """The runner side of the protocol: a trial list and a record of exploit requests."""

    def __init__(self, trials=()):
        self.trials = list(trials)
        self.exploits = []

    def get_trials(self):
        return list(self.trials)

    def request_exploit(self, trial, source_trial, new_config):
        self.exploits.append((trial, source_trial, new_config))


class FakeDomain:
    """Stands in for a tune search domain: anything with .sample()."""

    def __init__(self, value):
        self.value = value

    def sample(self):
        return self.value


def population(n=4, mode="max", checkpoints=True, **kwargs):
    """n RUNNING trials with lr = 0.1 * (i + 1), opt = "b", each with a checkpoint unless told otherwise."""
    kwargs = {"time_attr": "training_iteration", "perturbation_interval": 10,
              "hyperparam_mutations": {"lr": [0.001, 0.01], "opt": ["a", "b", "c"]}, **kwargs}  # fmt: skip
    sched = PopulationBasedTraining(metric="score", mode=mode, **kwargs)
    trials = [
        Trial(trial_id=f"t{i}", config={"lr": 0.1 * (i + 1), "opt": "b"}, status=RUNNING,
              checkpoint=f"ckpt{i}" if checkpoints else None)
        for i in range(n)
    ]  # fmt: skip
    ctl = FakeController(trials)
    for t in trials:
        sched.on_trial_add(ctl, t)
    return sched, ctl, trials


def report(sched, ctl, trial, it, score):
    return sched.on_trial_result(ctl, trial, {"training_iteration": it, "score": score})


@pytest.mark.parametrize("mode,sign", [("max", 1), ("min", -1)])
def test_bottom_trial_exploits_a_top_trial(mode, sign):
    """At the boundary the bottom-quantile trial asks to clone the top one and gets NOOP."""
    sched, ctl, trials = population(mode=mode)
    for t, score in zip(trials[1:], (2, 3, 4)):
        assert report(sched, ctl, t, 10, sign * score) == CONTINUE  # t1..t3 are not bottom yet
    assert report(sched, ctl, trials[0], 10, sign * 1) == NOOP
    ((target, source, new_config),) = ctl.exploits
    assert (target, source) == (trials[0], trials[3])
    assert set(new_config) == {"lr", "opt"}
    assert "1 perturbs" in sched.debug_string()


def test_source_must_have_a_checkpoint():
    """Only a top-quantile trial with a checkpoint is cloned; none means no exploit."""
    sched, ctl, trials = population(quantile_fraction=0.5)
    trials[3].checkpoint = None
    for t, score in zip(trials[1:], (2, 3, 4)):
        report(sched, ctl, t, 10, score)
    for seed in range(10):
        random.seed(seed)
        ctl.exploits.clear()
        sched._trial_state["t0"].last_perturbation_time = 0
        assert report(sched, ctl, trials[0], 10, 1) == NOOP
        assert ctl.exploits[0][1] is trials[2]
    trials[2].checkpoint = None
    sched._trial_state["t0"].last_perturbation_time = 0
    ctl.exploits.clear()
    assert report(sched, ctl, trials[0], 10, 1) == CONTINUE
    assert ctl.exploits == []


def test_continuous_values_are_multiplied_by_a_perturbation_factor():
    """Without resampling, numbers are multiplied by one of the factors; ints stay ints."""
    config = {"lr": 0.5, "batch": 64, "keep": "x"}
    mutations = {"lr": lambda: 99.0, "batch": FakeDomain(7)}
    seen_lr, seen_batch = set(), set()
    for seed in range(30):
        random.seed(seed)
        new, ops = explore(config, mutations, 0.0, (1.2, 0.8), None)
        seen_lr.add(round(new["lr"], 9))
        seen_batch.add(new["batch"])
        assert new["keep"] == "x" and isinstance(new["batch"], int)
        assert ops["lr"] in ("* 1.2", "* 0.8")
    assert seen_lr == {0.6, 0.4}
    assert seen_batch == {76, 51}
    assert config == {"lr": 0.5, "batch": 64, "keep": "x"}  # the source config is not changed


def test_resampling_draws_from_the_spec():
    """With resample_probability=1 values come from the callable, the domain, or the list."""
    config = {"lr": 0.5, "wd": 0.1, "opt": "b"}
    mutations = {"lr": lambda: 99.0, "wd": FakeDomain(0.25), "opt": ["a", "b", "c"]}
    new, ops = explore(config, mutations, 1.0, (1.2, 0.8), None)
    assert new["lr"] == 99.0 and new["wd"] == 0.25 and new["opt"] in ("a", "b", "c")
    assert set(ops.values()) == {"resample"}


def test_categorical_values_shift_to_a_neighbour():
    """Without resampling, a list value moves one step left or right, clamped at the ends."""
    seen = set()
    for seed in range(20):
        random.seed(seed)
        seen.add(explore({"opt": "b"}, {"opt": ["a", "b", "c"]}, 0.0, (1.2,), None)[0]["opt"])
    assert seen == {"a", "c"}
    ends = {explore({"opt": "a"}, {"opt": ["a", "b", "c"]}, 0.0, (1.2,), None)[0]["opt"] for _ in range(20)}
    assert ends == {"a", "b"}


def test_categorical_value_not_in_list_is_resampled():
    """A current value missing from the list is always replaced by a sample from it."""
    new, ops = explore({"opt": "zzz"}, {"opt": ["a", "b"]}, 0.0, (1.2,), None)
    assert new["opt"] in ("a", "b") and ops["opt"] == "resample"


def test_nested_mutations():
    """A dict of mutations explores the nested config."""
    random.seed(0)
    new, ops = explore({"opt": {"lr": 1.0, "m": 0.9}}, {"opt": {"lr": [1.0, 2.0]}}, 0.0, (2.0,), None)
    assert new["opt"]["m"] == 0.9 and new["opt"]["lr"] in (1.0, 2.0)
    assert "lr" in ops["opt"]


def test_custom_explore_fn_runs_after_mutations():
    """custom_explore_fn gets the mutated config and its return value is used."""
    def clip(config):
        config["lr"] = min(config["lr"], 0.15)
        return config

    sched, ctl, trials = population(custom_explore_fn=clip, hyperparam_mutations={"lr": lambda: 1.0})
    for t, score in zip(reversed(trials), (4, 3, 2, 1)):
        report(sched, ctl, t, 10, score)
    assert ctl.exploits
    assert all(new_config["lr"] <= 0.15 for _, _, new_config in ctl.exploits)


def test_custom_explore_fn_alone_is_enough():
    """PBT accepts custom_explore_fn without hyperparam_mutations."""
    sched, ctl, trials = population(hyperparam_mutations=None, custom_explore_fn=lambda c: {**c, "lr": -1})
    for t, score in zip(reversed(trials), (4, 3, 2, 1)):
        report(sched, ctl, t, 10, score)
    assert ctl.exploits[0][2] == {"lr": -1, "opt": "b"}


def test_custom_explore_fn_must_return_a_config():
    """A custom_explore_fn returning None raises a TypeError that says what to return."""
    with pytest.raises(TypeError, match="must return"):
        explore({"lr": 1.0}, {}, 0.0, (1.2,), lambda c: None)


def test_perturbation_interval_is_respected():
    """No decision between boundaries; after a boundary the next one is interval later."""
    sched, ctl, trials = population()
    for it in range(1, 10):
        for t, score in zip(trials, (1, 2, 3, 4)):
            assert report(sched, ctl, t, it, score) == CONTINUE
    for t, score in zip(trials[1:], (2, 3, 4)):
        report(sched, ctl, t, 10, score)
    assert report(sched, ctl, trials[0], 10, 1) == NOOP
    # The exploited trial takes over the source's perturbation time (10).
    ctl.exploits.clear()
    for it in range(11, 20):
        assert report(sched, ctl, trials[0], it, 0) == CONTINUE
    assert report(sched, ctl, trials[0], 20, 0) == NOOP


def test_burn_in_period_delays_the_first_exploit():
    """Nothing happens before burn_in_period, even past the perturbation interval."""
    sched, ctl, trials = population(burn_in_period=15)
    for it in (10, 14):
        for t, score in zip(trials, (1, 2, 3, 4)):
            assert report(sched, ctl, t, it, score) == CONTINUE
    for t, score in zip(trials[1:], (2, 3, 4)):
        report(sched, ctl, t, 15, score)
    assert report(sched, ctl, trials[0], 15, 1) == NOOP


def test_top_trial_pauses_when_others_wait():
    """At a boundary a non-exploited trial yields to PENDING/PAUSED trials."""
    sched, ctl, trials = population()
    trials[2].status = PENDING
    assert report(sched, ctl, trials[3], 10, 4) == PAUSE


def test_finished_trials_leave_the_population():
    """Terminated trials are neither sources nor ranked."""
    sched, ctl, trials = population()
    for t, score in zip(trials[1:], (2, 3, 4)):
        report(sched, ctl, t, 10, score)
    trials[3].status = TERMINATED
    sched.on_trial_complete(ctl, trials[3], {})
    assert report(sched, ctl, trials[0], 10, 1) == NOOP
    assert ctl.exploits[0][1] is trials[2]


def test_add_samples_missing_mutated_keys():
    """on_trial_add fills config keys named in hyperparam_mutations but missing (as Ray does)."""
    sched = PopulationBasedTraining(metric="score", mode="max", hyperparam_mutations={
        "lr": FakeDomain(0.3), "opt": ["sgd"], "nested": {"m": lambda: 0.9}})  # fmt: skip
    trial = Trial(trial_id="t", config={"lr": 0.1})
    sched.on_trial_add(FakeController([trial]), trial)
    assert trial.config == {"lr": 0.1, "opt": "sgd", "nested": {"m": 0.9}}
    assert trial.evaluated_params == {"opt": "sgd", "nested": {"m": 0.9}}


def test_choose_trial_least_far_along():
    """choose_trial_to_run picks the waiting trial with the least time_attr."""
    sched, ctl, trials = population()
    for t, it in zip(trials, (30, 10, 20, 40)):
        report(sched, ctl, t, it, 0)
        t.status = PAUSED
    assert sched.choose_trial_to_run(ctl) is trials[1]


def test_synch_mode_waits_then_exploits_together():
    """synch=True pauses trials at the boundary until all arrive, then exploits the bottom ones."""
    sched, ctl, trials = population(synch=True)
    for t, score in zip(trials[:3], (1, 2, 3)):
        assert report(sched, ctl, t, 10, score) == PAUSE
        t.status = PAUSED
    assert sched.choose_trial_to_run(ctl) is None  # no waiting trial is behind the boundary
    assert report(sched, ctl, trials[3], 10, 4) == PAUSE
    ((target, source, _),) = ctl.exploits
    assert (target, source) == (trials[0], trials[3])
    trials[3].status = PAUSED
    assert sched.choose_trial_to_run(ctl) is trials[0]


def test_synch_mode_current_trial_exploited_gets_noop():
    """In synch mode the trial completing the cohort gets NOOP if it is the one exploited."""
    sched, ctl, trials = population(synch=True)
    for t, score in zip(trials[1:], (2, 3, 4)):
        report(sched, ctl, t, 10, score)
        t.status = PAUSED
    assert report(sched, ctl, trials[0], 10, 1) == NOOP


def test_require_attrs():
    """A result without the metric raises (naming it) unless require_attrs=False."""
    sched, ctl, trials = population()
    with pytest.raises(RuntimeError, match="'score'.*require_attrs=False"):
        sched.on_trial_result(ctl, trials[0], {"training_iteration": 10})
    sched, ctl, trials = population(require_attrs=False)
    assert sched.on_trial_result(ctl, trials[0], {"training_iteration": 10}) == CONTINUE


def test_exploit_log_records_each_exploit():
    """With log_config, each exploit is recorded with old and new configs."""
    sched, ctl, trials = population()
    for t, score in zip(trials[1:], (2, 3, 4)):
        report(sched, ctl, t, 10, score)
    report(sched, ctl, trials[0], 10, 1)
    (entry,) = sched.exploit_log
    assert (entry["trial_id"], entry["source_trial_id"]) == ("t0", "t3")
    assert entry["new_config"] == ctl.exploits[0][2]


@pytest.mark.parametrize(
    "kwargs,error,match",
    [
        ({}, ValueError, "hyperparam_mutations"),
        ({"hyperparam_mutations": {"lr": [1]}, "quantile_fraction": 0.6}, ValueError, "quantile_fraction"),
        ({"hyperparam_mutations": {"lr": [1]}, "quantile_fraction": -0.1}, ValueError, "quantile_fraction"),
        ({"hyperparam_mutations": {"lr": 5}}, TypeError, r"\['lr'\]"),
        ({"hyperparam_mutations": {"lr": []}}, ValueError, "empty"),
        ({"hyperparam_mutations": {"lr": [1]}, "perturbation_interval": 0}, ValueError, "interval"),
        ({"hyperparam_mutations": {"lr": [1]}, "resample_probability": 2}, ValueError, "resample_prob"),
    ],
)
def test_bad_arguments(kwargs, error, match):
    """Invalid PBT arguments raise with a message naming the argument."""
    with pytest.raises(error, match=match):
        PopulationBasedTraining(**kwargs)


def test_sample_from_is_rejected():
    """A tune.sample_from spec (class Function) cannot be resampled and is rejected."""
    class Function(FakeDomain):
        pass

    with pytest.raises(ValueError, match="sample_from"):
        PopulationBasedTraining(hyperparam_mutations={"lr": Function(1)})


def test_stop_is_never_answered():
    """PBT never stops trials itself."""
    sched, ctl, trials = population()
    answers = {report(sched, ctl, t, it, s) for it in (5, 10, 20) for t, s in zip(trials, (1, 2, 3, 4))}
    assert STOP not in answers
