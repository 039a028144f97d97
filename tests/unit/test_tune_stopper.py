"""Stoppers: per-trial and whole-experiment stop decisions from results, and the dict form of ``stop``."""

import datetime

import pytest

from greenroom.tune.stopper import (
    CombinedStopper,
    ExperimentPlateauStopper,
    FunctionStopper,
    MaximumIterationStopper,
    NoopStopper,
    Stopper,
    TimeoutStopper,
    TrialPlateauStopper,
    dict_stopper,
)


class FakeClock:
    """A clock that moves only when told."""

    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


def test_base_stopper_must_be_subclassed():
    """The bare Stopper says which method to implement."""
    with pytest.raises(NotImplementedError, match="__call__"):
        Stopper()("t", {})
    with pytest.raises(NotImplementedError, match="stop_all"):
        Stopper().stop_all()


def test_noop_stopper_never_stops():
    """NoopStopper answers False to everything."""
    assert not NoopStopper()("t", {"x": 1}) and not NoopStopper().stop_all()


def test_maximum_iteration_stopper_counts_per_trial():
    """Each trial is stopped at its max_iter-th result, independently."""
    stopper = MaximumIterationStopper(max_iter=3)
    assert [stopper("a", {}) for _ in range(3)] == [False, False, True]
    assert stopper("b", {}) is False
    assert stopper.stop_all() is False
    with pytest.raises(ValueError, match="max_iter"):
        MaximumIterationStopper(0)


def test_trial_plateau_stopper_stops_flat_trials_after_grace():
    """A trial whose last num_results values vary less than std stops, not before grace_period."""
    stopper = TrialPlateauStopper("loss", std=0.01, num_results=3, grace_period=5)
    answers = [stopper("a", {"loss": 1.0}) for _ in range(5)]
    assert answers == [False, False, False, False, True]
    assert [stopper("b", {"loss": v}) for v in (5, 4, 3, 2, 1)] == [False] * 5  # still moving
    assert stopper.stop_all() is False


def test_trial_plateau_stopper_metric_threshold():
    """With metric_threshold, a flat trial stops only once the metric is good enough for the mode."""
    stopper = TrialPlateauStopper("acc", num_results=2, grace_period=2, metric_threshold=0.9, mode="max")
    assert [stopper("a", {"acc": 0.5}) for _ in range(4)] == [False] * 4
    assert [stopper("b", {"acc": 0.95}) for _ in range(2)] == [False, True]
    low = TrialPlateauStopper("loss", num_results=2, grace_period=2, metric_threshold=0.1, mode="min")
    assert [low("a", {"loss": 0.5}) for _ in range(3)] == [False] * 3
    assert [low("b", {"loss": 0.05}) for _ in range(2)] == [False, True]


def test_trial_plateau_stopper_missing_metric_never_stops():
    """Results without the metric count as results but never plateau."""
    stopper = TrialPlateauStopper("loss", num_results=2, grace_period=1)
    assert [stopper("a", {}) for _ in range(4)] == [False] * 4


def test_trial_plateau_stopper_needs_mode_with_threshold():
    """metric_threshold without mode min/max raises."""
    with pytest.raises(ValueError, match="mode"):
        TrialPlateauStopper("loss", metric_threshold=0.1)


def test_experiment_plateau_stopper_stops_all_when_top_values_are_flat():
    """When the top values (over all trials) have a std <= std, everything stops (after patience)."""
    stopper = ExperimentPlateauStopper("loss", std=0.001, top=3, mode="min", patience=2)
    assert stopper("a", {"loss": 1.0}) is False
    assert stopper("b", {"loss": 1.0}) is False
    assert stopper("c", {"loss": 1.0}) is False  # plateaued once (Ray counts this as 1 of patience)
    assert stopper("a", {"loss": 5.0}) is True  # not in the top 3; plateaued twice
    assert stopper.stop_all() is True


def test_experiment_plateau_stopper_keeps_the_best_for_the_mode():
    """mode=max keeps the highest values, so a new best breaks the plateau."""
    stopper = ExperimentPlateauStopper("acc", std=0.001, top=2, mode="max")
    stopper("a", {"acc": 0.5})
    assert stopper("b", {"acc": 0.5}) is True
    assert stopper("c", {"acc": 0.9}) is False
    assert stopper._top_values == [0.5, 0.9]


def test_experiment_plateau_stopper_missing_metric_is_explained():
    """A result without the metric raises naming it and the reported keys."""
    with pytest.raises(ValueError, match="'loss'.*'acc'"):
        ExperimentPlateauStopper("loss")("a", {"acc": 1})


@pytest.mark.parametrize(
    "kwargs,match",
    [({"mode": "avg"}, "mode"), ({"top": 1}, "top"), ({"patience": -1}, "patience"), ({"std": 0}, "std")],
)
def test_experiment_plateau_stopper_bad_arguments(kwargs, match):
    """Out-of-range arguments raise ValueError naming the argument."""
    with pytest.raises(ValueError, match=match):
        ExperimentPlateauStopper("loss", **kwargs)


@pytest.mark.parametrize("timeout", [10, 10.0, datetime.timedelta(seconds=10)])
def test_timeout_stopper_counts_from_first_check(timeout):
    """The budget starts at the first stop_all() and runs out after timeout seconds."""
    clock = FakeClock()
    stopper = TimeoutStopper(timeout, clock=clock)
    clock.now += 100  # setup time before the first check is free
    assert stopper.stop_all() is False
    clock.now += 9.5
    assert stopper.stop_all() is False
    assert stopper("t", {}) is False
    clock.now += 0.5
    assert stopper.stop_all() is True


def test_timeout_stopper_rejects_other_types():
    """A timeout that is not a number or timedelta raises, naming the type."""
    with pytest.raises(ValueError, match="str"):
        TimeoutStopper("10s")


def test_function_stopper_wraps_a_function():
    """FunctionStopper calls fn(trial_id, result) and never stops everything."""
    stopper = FunctionStopper(lambda trial_id, result: trial_id == "b" and result["x"] > 1)
    assert stopper("a", {"x": 5}) is False
    assert stopper("b", {"x": 5}) is True
    assert stopper.stop_all() is False
    with pytest.raises(TypeError, match="function"):
        FunctionStopper(3)


def test_function_stopper_is_valid_function():
    """Plain callables are valid; Stoppers are not; a callable with stop_all must subclass Stopper."""
    class LooksLikeStopper:
        def __call__(self, trial_id, result):
            return False

        def stop_all(self):
            return False

    assert FunctionStopper.is_valid_function(lambda t, r: False) is True
    assert FunctionStopper.is_valid_function(MaximumIterationStopper(2)) is False
    with pytest.raises(ValueError, match="Stopper"):
        FunctionStopper.is_valid_function(LooksLikeStopper())


def test_combined_stopper_is_any_of():
    """CombinedStopper stops a trial, or everything, when any member does."""
    clock = FakeClock()
    timeout = TimeoutStopper(5, clock=clock)
    bad = FunctionStopper(lambda t, r: r.get("bad", False))
    combined = CombinedStopper(MaximumIterationStopper(2), bad, timeout)
    assert combined("a", {}) is False
    assert combined("b", {"bad": True}) is True
    assert combined("a", {}) is True
    assert combined.stop_all() is False
    clock.now += 5
    assert combined.stop_all() is True


def test_dict_stopper_stops_when_any_criterion_is_met():
    """stop={...} stops a trial as soon as any result[key] >= value."""
    stopper = dict_stopper({"training_iteration": 10, "mean_accuracy": 0.9})
    assert stopper("a", {"training_iteration": 3, "mean_accuracy": 0.5}) is False
    assert stopper("a", {"training_iteration": 3, "mean_accuracy": 0.9}) is True
    assert stopper("a", {"training_iteration": 10, "mean_accuracy": 0.1}) is True
    assert stopper.stop_all() is False


def test_dict_stopper_nested_keys():
    """Keys may be 'a/b' or nested dicts; both read nested results."""
    result = {"eval": {"acc": 0.95}, "training_iteration": 1}
    assert dict_stopper({"eval/acc": 0.9})("a", result) is True
    assert dict_stopper({"eval": {"acc": 0.99}})("a", result) is False
    assert dict_stopper({"eval/acc": 0.9})("a", {"eval/acc": 0.95}) is True  # already flattened


def test_dict_stopper_missing_key_names_it_and_the_reported_keys():
    """A criterion absent from a result raises ValueError naming the key and what was reported."""
    stopper = dict_stopper({"mean_acc": 0.9})
    with pytest.raises(ValueError, match=r"'mean_acc'.*\['eval/acc', 'training_iteration'\]"):
        stopper("a", {"training_iteration": 1, "eval": {"acc": 0.5}})


def test_dict_stopper_needs_a_dict():
    """Anything but a dict raises TypeError."""
    with pytest.raises(TypeError, match="dict"):
        dict_stopper([("a", 1)])


def test_each_stopper_is_at_rays_module_path():
    """tune.stopper is a package with Ray's modules; each name is the same object as tune.stopper's."""
    import importlib

    from greenroom.tune import stopper

    paths = {
        "stopper": ["Stopper", "CombinedStopper"], "noop": ["NoopStopper"], "function_stopper": ["FunctionStopper"],
        "maximum_iteration": ["MaximumIterationStopper"], "trial_plateau": ["TrialPlateauStopper"],
        "experiment_plateau": ["ExperimentPlateauStopper"], "timeout": ["TimeoutStopper"],
    }  # fmt: skip
    for module, names in paths.items():
        loaded = importlib.import_module(f"greenroom.tune.stopper.{module}")
        for name in names:
            assert getattr(loaded, name) is getattr(stopper, name), (module, name)
