"""The rest of Ray Tune's API with real trials: Tuner.get_results, the with_resources and
with_parameters wrappings, should_checkpoint, seeded searches, tune.Experiment and
run_experiments, the registry, schedulers and searchers by name, the context, result
constants and stoppers at Ray's module paths.

Every experiment writes under ``tmp_path`` and runs quietly (``verbose=0``).
"""

from __future__ import annotations

import json
import os
import random
from pathlib import Path

import numpy as np
import pytest

import greenroom
from greenroom import tune
from greenroom.tune.result import SHOULD_CHECKPOINT, TIME_TOTAL_S, TRAINING_ITERATION


@pytest.fixture(autouse=True)
def started():
    """greenroom on 4 CPUs for each test, shut down after."""
    greenroom.init(num_cpus=4)
    yield
    greenroom.shutdown()


def quiet(tmp_path, **kwargs) -> dict:
    return {"storage_path": str(tmp_path), "verbose": 0, **kwargs}


def cpus_seen(config):
    tune.report(cpus=tune.get_context().get_trial_resources().required_resources.get("CPU", 0))


# -- Tuner.get_results ----------------------------------------------------------------------------


def test_get_results_returns_the_last_fit_and_a_restored_experiment(tmp_path):
    """get_results() is fit()'s ResultGrid; a restored Tuner reads it from disk; an unrun one raises."""
    tuner = tune.Tuner(
        lambda config: tune.report(score=config["x"]),
        param_space={"x": tune.grid_search([1, 2])},
        run_config=tune.RunConfig(name="gr", storage_path=str(tmp_path), verbose=0),
    )
    with pytest.raises(RuntimeError, match="Call `Tuner.fit\\(\\)`"):
        tuner.get_results()
    grid = tuner.fit()
    assert tuner.get_results() is grid
    restored = tune.Tuner.restore(str(tmp_path / "gr"), lambda config: None)
    again = restored.get_results()
    assert sorted(r.metrics["score"] for r in again) == [1, 2]
    assert again.get_best_result("score", "max").config == {"x": 2}


# -- with_resources / with_parameters ------------------------------------------------------------------


def test_ray_remote_takes_a_with_resources_trainable_and_the_original_is_untouched():
    """with_resources returns a plain function (ray.remote runs it); the caller's is unchanged."""

    def square(x):
        return x * x

    wrapped = tune.with_resources(square, {"cpu": 2})
    assert greenroom.get(greenroom.remote(wrapped).remote(7)) == 49
    assert wrapped._resources == tune.PlacementGroupFactory([{"CPU": 2}])
    assert not hasattr(square, "_resources")


@pytest.mark.parametrize("order", ["resources_then_parameters", "parameters_then_resources"])
def test_with_resources_and_with_parameters_compose_in_either_order(tmp_path, order):
    """Both wrappers on one function: the trial holds 2 CPUs and gets the data from the object store."""
    data = np.arange(1000)

    def train(config, data=None):
        tune.report(total=int(data.sum()), cpus=tune.get_context().get_trial_resources().head_cpus)

    if order == "resources_then_parameters":
        trainable = tune.with_parameters(tune.with_resources(train, {"cpu": 2}), data=data)
    else:
        trainable = tune.with_resources(tune.with_parameters(train, data=data), {"cpu": 2})
    (trial,) = tune.run(trainable, **quiet(tmp_path)).trials
    assert trial.last_result["total"] == int(data.sum()) and trial.last_result["cpus"] == 2


class Setup(tune.Trainable):
    """Reports what setup() got through with_parameters, and the resources it holds."""

    def setup(self, config, offset=0):
        self.offset = offset

    def step(self):
        return {"value": self.config["x"] + self.offset, "cpus": self.trial_resources.head_cpus, "done": True}


def test_class_trainable_wrappings_and_resources_per_config(tmp_path):
    """with_parameters gives setup() kwargs; with_resources(callable) sizes trials by config."""
    trainable = tune.with_resources(
        tune.with_parameters(Setup, offset=100), lambda config: {"cpu": config["x"]}
    )
    analysis = tune.run(trainable, config={"x": tune.grid_search([1, 2])}, **quiet(tmp_path))
    assert sorted((t.last_result["value"], t.last_result["cpus"]) for t in analysis.trials) == [
        (101, 1),
        (102, 2),
    ]
    assert {t.config["x"]: t.resources for t in analysis.trials}[2] == tune.PlacementGroupFactory(
        [{"CPU": 2}]
    )


def test_resources_set_twice_is_refused_as_in_ray(tmp_path):
    """resources_per_trial on a trainable that already sets its own resources is a TuneError, as in Ray."""
    with pytest.raises(tune.TuneError, match="Please clear the `resources_per_trial` option"):
        tune.run(
            tune.with_resources(cpus_seen, {"cpu": 2}), resources_per_trial={"cpu": 1}, **quiet(tmp_path)
        )


# -- should_checkpoint ----------------------------------------------------------------------------------


class SavesOnRequest(tune.Trainable):
    """Asks to be checkpointed at step 2 only; counts its saves."""

    def setup(self, config):
        self.n = 0

    def step(self):
        self.n += 1
        return {"n": self.n, SHOULD_CHECKPOINT: self.n == 2, "done": self.n == 3}

    def save_checkpoint(self, checkpoint_dir):
        Path(checkpoint_dir, "n").write_text(str(self.n))


def test_should_checkpoint_in_a_result_saves_a_class_trainable(tmp_path):
    """A result with should_checkpoint=True makes the Trainable save, once, at that iteration."""
    (trial,) = tune.run(SavesOnRequest, **quiet(tmp_path)).trials
    checkpoints = sorted(p.name for p in Path(trial.path).iterdir() if p.name.startswith("checkpoint_"))
    assert len(checkpoints) == 1
    assert Path(trial.checkpoint.path, "n").read_text() == "2" and trial.checkpoint_iteration == 2


# -- seeded searches ------------------------------------------------------------------------------------


def sampled_configs(tmp_path, name: str, seed_random: bool) -> list[tuple]:
    np.random.seed(1234)
    space = {
        "lr": tune.loguniform(1e-4, 1e-1),
        "layers": tune.randint(1, 9),
        "act": tune.choice(["relu", "tanh"]),
        "grid": tune.grid_search(["a", "b"]),
    }
    if seed_random:  # Ray's FAQ seeds both; sample_from functions draw from whichever they use
        random.seed(1234)
        space["drop"] = tune.sample_from(lambda spec: random.random())
    else:
        random.seed()  # numpy's seed alone decides the search's draws, as in Ray
    analysis = tune.run(
        lambda config: tune.report(ok=1), config=space, num_samples=3, name=name, **quiet(tmp_path)
    )
    return [tuple(sorted(t.config.items())) for t in analysis.trials]


@pytest.mark.parametrize("seed_random", [True, False], ids=["random_and_numpy", "numpy"])
def test_a_seeded_search_is_reproduced(tmp_path, seed_random):
    """Seeding numpy.random (and random, for sample_from) before tune.run gives the same configs in order."""
    first = sampled_configs(tmp_path, "one", seed_random)
    assert len(set(first)) == 6
    assert sampled_configs(tmp_path, "two", seed_random) == first


# -- Experiment, run_experiments, the registry, names -----------------------------------------------------


def counts_to(config):
    for i in range(config["n"]):
        tune.report(i=i, name=tune.get_context().get_experiment_name())


def test_run_experiments_runs_dict_specs_at_once(tmp_path):
    """A dict of Ray's experiment specs runs at once: each keeps its trainable, stop criteria, directory."""
    tune.register_trainable("counter", counts_to)
    trials = tune.run_experiments(
        {
            "short": {"run": "counter", "config": {"n": 9}, "stop": {TRAINING_ITERATION: 2},
                      "storage_path": str(tmp_path)},
            "long": {"run": counts_to, "config": {"n": tune.grid_search([4, 5])},
                     "storage_path": str(tmp_path)},
        },
        verbose=0,
    )  # fmt: skip
    by_name = sorted((t.experiment_name, len(t.results)) for t in trials)
    assert by_name == [("long", 4), ("long", 5), ("short", 2)]
    assert {t.last_result["name"] for t in trials} == {"short", "long"}
    assert all(Path(t.path).parent == tmp_path / t.experiment_name for t in trials)
    assert (tmp_path / "short" / "experiment_state.json").exists()


def test_experiments_one_after_the_other_and_tune_run_of_an_experiment(tmp_path):
    """concurrent=False runs each Experiment alone; tune.run takes an Experiment and its own settings."""
    one = tune.Experiment("one", counts_to, config={"n": 2}, storage_path=str(tmp_path))
    two = tune.Experiment("two", counts_to, config={"n": 3}, storage_path=str(tmp_path), num_samples=2)
    trials = tune.run_experiments([one, two], concurrent=False, verbose=0)
    assert sorted((t.experiment_name, len(t.results)) for t in trials) == [("one", 2), ("two", 3), ("two", 3)]
    analysis = tune.run(
        tune.Experiment("three", counts_to, config={"n": 1}, storage_path=str(tmp_path)), verbose=0
    )
    assert analysis.experiment_path == str(tmp_path / "three") and len(analysis.trials) == 1


def test_run_by_registered_name_with_schedulers_and_searchers_by_name(tmp_path):
    """tune.run("name") finds a registered trainable; scheduler and search_alg may be Ray's names."""
    tune.register_trainable("named_counter", counts_to)
    analysis = tune.run(
        "named_counter", config={"n": 4}, num_samples=2, metric="i", mode="max",
        scheduler="async_hyperband", search_alg="random", **quiet(tmp_path),
    )  # fmt: skip
    assert [t.trainable_name for t in analysis.trials] == ["named_counter"] * 2
    assert isinstance(
        tune.create_scheduler("hb_bohb", metric="i", mode="max"), tune.schedulers.HyperBandForBOHB
    )
    with pytest.raises(tune.TuneError, match="no trainable is registered as 'nothing'"):
        tune.run("nothing", **quiet(tmp_path))


def test_trial_name_and_dirname_creators(tmp_path):
    """trial_name_creator names trials (and the context), trial_dirname_creator their directories."""
    grid = tune.Tuner(
        lambda config: tune.report(name=tune.get_context().get_trial_name()),
        param_space={"x": tune.grid_search([1, 2])},
        tune_config=tune.TuneConfig(
            trial_name_creator=lambda t: f"t{t.config['x']}",
            trial_dirname_creator=lambda t: f"dir{t.config['x']}",
        ),
        run_config=tune.RunConfig(storage_path=str(tmp_path), name="named", verbose=0),
    ).fit()
    assert sorted(r.metrics["name"] for r in grid) == ["t1", "t2"]
    assert sorted(os.path.basename(r.path) for r in grid) == ["dir1", "dir2"]


# -- the context, result fields, stoppers at Ray's paths --------------------------------------------------


def test_tune_context_fields(tmp_path):
    """get_context() names the trial, its experiment and directory, what it holds; a trial is one rank."""

    def trainable(config):
        ctx = tune.get_context()
        storage = ctx.get_storage()
        tune.report(
            experiment=ctx.get_experiment_name(), trial_dir=ctx.get_trial_dir(),
            cpus=ctx.get_trial_resources().head_cpus,
            ranks=[ctx.get_world_rank(), ctx.get_world_size(), ctx.get_local_rank(),
                   ctx.get_local_world_size(),
                   ctx.get_node_rank()],
            storage=[storage.experiment_dir_name, storage.trial_fs_path],
            is_context=isinstance(ctx, tune.TuneContext),
        )  # fmt: skip

    (trial,) = tune.run(trainable, name="ctx", resources_per_trial={"cpu": 2}, **quiet(tmp_path)).trials
    r = trial.last_result
    assert r["experiment"] == "ctx" and os.path.samefile(r["trial_dir"], trial.path) and r["cpus"] == 2
    assert r["ranks"] == [0, 1, 0, 1, 0] and r["is_context"]
    assert r["storage"][0] == "ctx" and os.path.samefile(r["storage"][1], trial.path)


def test_result_constants_name_the_fields_tune_fills(tmp_path):
    """tune.result's constants are the keys of every result."""
    (trial,) = tune.run(lambda config: tune.report(x=1), **quiet(tmp_path)).trials
    r = tune.result
    keys = (TRAINING_ITERATION, TIME_TOTAL_S, r.TRIAL_ID, r.TIMESTAMP, r.PID, r.HOSTNAME, r.TIME_THIS_ITER_S)
    for key in (*keys, r.EXPERIMENT_TAG):
        assert key in trial.last_result, key


def test_stoppers_at_rays_module_paths(tmp_path):
    """Each stopper imports from its Ray module; a combined one stops trials by iteration."""
    from greenroom.tune.stopper.experiment_plateau import ExperimentPlateauStopper  # noqa: F401
    from greenroom.tune.stopper.function_stopper import FunctionStopper
    from greenroom.tune.stopper.maximum_iteration import MaximumIterationStopper
    from greenroom.tune.stopper.noop import NoopStopper  # noqa: F401
    from greenroom.tune.stopper.stopper import CombinedStopper, Stopper
    from greenroom.tune.stopper.timeout import TimeoutStopper
    from greenroom.tune.stopper.trial_plateau import TrialPlateauStopper  # noqa: F401

    assert tune.stopper.MaximumIterationStopper is MaximumIterationStopper and tune.Stopper is Stopper
    stop = CombinedStopper(
        MaximumIterationStopper(3), FunctionStopper(lambda tid, r: False), TimeoutStopper(60)
    )
    analysis = tune.run(lambda config: [tune.report(i=i) for i in range(10)], stop=stop, **quiet(tmp_path))
    assert [len(t.results) for t in analysis.trials] == [3]
    assert json.loads(Path(analysis.trials[0].path, "params.json").read_text()) == {}


def test_rays_example_trainable_at_its_module_path(tmp_path):
    """tune.utils.mock_trainable.MyTrainableClass (imported by Ray's examples) trains, saves and stops."""
    from greenroom.tune.utils.mock_trainable import MyTrainableClass

    analysis = tune.run(
        MyTrainableClass, config={"width": 2, "height": 10}, stop={TRAINING_ITERATION: 3}, checkpoint_freq=3,
        **quiet(tmp_path),
    )  # fmt: skip
    (trial,) = analysis.trials
    assert [round(r["episode_reward_mean"], 3) for r in trial.results] == [4.621, 7.616, 9.051]
    assert json.loads(Path(trial.checkpoint.path, "checkpoint").read_text()) == {"timestep": 3}
