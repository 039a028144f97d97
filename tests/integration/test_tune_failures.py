"""Tune when things go wrong: trainables that raise, retries from checkpoints,
interrupted experiments resumed, PBT restarting trials from others' checkpoints,
and wait_for_gpu without NVML.

Failures that must happen once are keyed on a marker file in ``tmp_path``: the
first attempt creates it and raises, the retry finds it and carries on.
"""

from __future__ import annotations

import itertools
import json
import os
import shutil
import tempfile
from pathlib import Path

import pytest

import greenroom
from greenroom import tune
from greenroom.tune.schedulers import PopulationBasedTraining


@pytest.fixture(autouse=True)
def started():
    """greenroom on 4 CPUs for each test, shut down after."""
    greenroom.init(num_cpus=4)
    yield
    greenroom.shutdown()


def result_lines(trial_dir: str) -> list[dict]:
    path = os.path.join(trial_dir, "result.json")
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def report_with_checkpoint(metrics: dict, state: dict) -> None:
    """tune.report(metrics) with a checkpoint holding ``state`` as JSON."""
    with tempfile.TemporaryDirectory() as d:
        Path(d, "state.json").write_text(json.dumps(state))
        tune.report(metrics, checkpoint=tune.Checkpoint.from_directory(d))


def restored_state() -> dict | None:
    checkpoint = tune.get_checkpoint()
    if checkpoint is None:
        return None
    with checkpoint.as_directory() as d:
        return json.loads(Path(d, "state.json").read_text())


def always_fails(config):
    tune.report(loss=1.0)
    raise ValueError("boom from the trainable")


# -- a trainable that raises ---------------------------------------------------------------------


def test_failed_trial_raises_tune_error_and_writes_error_txt(tmp_path):
    """A raising trainable: trial ERROR, error.txt holds the traceback, tune.run raises TuneError."""
    with pytest.raises(tune.TuneError, match="1 trial"):
        tune.run(always_fails, name="fails", storage_path=str(tmp_path), verbose=0)
    analysis = tune.ExperimentAnalysis(str(tmp_path / "fails"))
    (trial,) = analysis.trials
    assert trial.status == "ERROR"
    text = Path(trial.path, "error.txt").read_text()
    assert "Traceback" in text and "ValueError: boom from the trainable" in text
    assert "always_fails" in text  # the frame of the user's function


def test_failed_trial_without_raising(tmp_path):
    """raise_on_failed_trial=False returns the analysis; good trials finish beside the failed one."""

    def sometimes(config):
        tune.report(loss=config["x"])
        if config["x"] == 2:
            raise RuntimeError("x is 2")

    analysis = tune.run(
        sometimes,
        config={"x": tune.grid_search([1, 2, 3])},
        storage_path=str(tmp_path),
        verbose=0,
        raise_on_failed_trial=False,
    )
    status = {t.config["x"]: t.status for t in analysis.trials}
    assert status == {1: "TERMINATED", 2: "ERROR", 3: "TERMINATED"}
    bad = next(t for t in analysis.trials if t.config["x"] == 2)
    assert "RuntimeError: x is 2" in bad.error
    assert os.path.exists(os.path.join(bad.path, "error.txt"))


# -- retries from the last checkpoint ----------------------------------------------------------------


def fails_once_at_3(marker: str):
    """Counts to 6, checkpointing each step; the first attempt fails before step 4."""

    def trainable(config):
        state = restored_state() or {"n": 0, "restored_at": None}
        if tune.get_checkpoint() is not None:
            state["restored_at"] = state["n"]
        while state["n"] < 6:
            if state["n"] == 3 and not os.path.exists(marker):
                Path(marker).touch()
                raise RuntimeError("injected failure at step 4")
            state["n"] += 1
            report_with_checkpoint({"n": state["n"], "restored_at": state["restored_at"]}, state)

    return trainable


def test_max_failures_restarts_from_the_last_checkpoint(tmp_path):
    """max_failures=1: a trial failing once at step 4 continues from its step-3 checkpoint, not from scratch."""
    trainable = fails_once_at_3(str(tmp_path / "failed-once"))
    analysis = tune.run(trainable, max_failures=1, storage_path=str(tmp_path), verbose=0)
    (trial,) = analysis.trials
    assert trial.status == "TERMINATED"
    assert trial.num_failures == 1
    lines = result_lines(trial.path)
    assert [r["n"] for r in lines] == [1, 2, 3, 4, 5, 6]  # 4..6 only once: resumed, not restarted
    assert [r["restored_at"] for r in lines] == [None, None, None, 3, 3, 3]
    # Ray continues the iteration count of a restored trial.
    assert [r["training_iteration"] for r in lines] == [1, 2, 3, 4, 5, 6]


def test_max_failures_zero_does_not_retry(tmp_path):
    """max_failures=0 (the default): the same trainable ends in ERROR after its first failure."""
    trainable = fails_once_at_3(str(tmp_path / "failed-once"))
    analysis = tune.run(trainable, storage_path=str(tmp_path), verbose=0, raise_on_failed_trial=False)
    (trial,) = analysis.trials
    assert trial.status == "ERROR"
    assert [r["n"] for r in result_lines(trial.path)] == [1, 2, 3]


class FailsOnce(tune.Trainable):
    """Counts steps; the first attempt raises at step 4 unless the marker exists."""

    def setup(self, config):
        self.n = 0
        self.restored = False

    def step(self):
        if self.n == 3 and not os.path.exists(self.config["marker"]):
            Path(self.config["marker"]).touch()
            raise RuntimeError("injected failure in step()")
        self.n += 1
        return {"n": self.n, "restored": self.restored, "done": self.n >= 6}

    def save_checkpoint(self, checkpoint_dir):
        return {"n": self.n}

    def load_checkpoint(self, checkpoint):
        self.n = checkpoint["n"]
        self.restored = True


def test_class_trainable_retry_loads_its_checkpoint(tmp_path):
    """A tune.Trainable with checkpoint_freq=1 and max_failures=1 resumes via load_checkpoint()."""
    analysis = tune.run(
        FailsOnce,
        config={"marker": str(tmp_path / "m")},
        checkpoint_freq=1,
        max_failures=1,
        storage_path=str(tmp_path),
        verbose=0,
    )
    (trial,) = analysis.trials
    assert trial.status == "TERMINATED"
    lines = result_lines(trial.path)
    assert [r["n"] for r in lines] == [1, 2, 3, 4, 5, 6]
    assert [r["restored"] for r in lines] == [False] * 3 + [True] * 3
    assert [r["training_iteration"] for r in lines] == [1, 2, 3, 4, 5, 6]


def test_tuner_failure_config_and_result_grid_errors(tmp_path):
    """Tuner with FailureConfig(max_failures=1): a flaky trial recovers; one that always fails is in errors."""
    marker = str(tmp_path / "failed-once")
    flaky = fails_once_at_3(marker)

    def trainable(config):
        if config["always"]:
            always_fails(config)
        flaky(config)

    grid = tune.Tuner(
        trainable,
        param_space={"always": tune.grid_search([False, True])},
        run_config=tune.RunConfig(
            storage_path=str(tmp_path),
            name="tuner",
            verbose=0,
            failure_config=tune.FailureConfig(max_failures=1),
        ),
    ).fit()
    assert len(grid) == 2
    assert grid.num_errors == 1 and len(grid.errors) == 1
    assert "boom from the trainable" in str(grid.errors[0])
    good = next(r for r in grid if not r.config["always"])
    assert good.error is None
    assert good.metrics["n"] == 6 and good.metrics["restored_at"] == 3
    assert list(good.metrics_dataframe["n"]) == [1, 2, 3, 4, 5, 6]
    bad = next(r for r in grid if r.config["always"])
    assert isinstance(bad.error, BaseException)
    # Two attempts, each reported one result before raising.
    assert len(bad.metrics_dataframe) == 2


# -- interrupt and resume -----------------------------------------------------------------------------


class InterruptAfter(tune.Callback):
    """Raises KeyboardInterrupt (as Ctrl-C would) at the n-th result of the experiment."""

    def __init__(self, n: int):
        self.n = n
        self.seen = 0

    def on_trial_result(self, iteration, trials, trial, result, **info):
        self.seen += 1
        if self.seen == self.n:
            raise KeyboardInterrupt


def three_steps(config):
    state = restored_state() or {"i": 0}
    while state["i"] < 3:
        state["i"] += 1
        report_with_checkpoint({"i": state["i"], "x": config["x"]}, state)


def finished_trials(path: str) -> dict[str, int]:
    """{trial dir: result lines} of the TERMINATED trials of the experiment at ``path``."""
    analysis = tune.ExperimentAnalysis(path)
    return {t.path: len(result_lines(t.path)) for t in analysis.trials if t.status == "TERMINATED"}


ONE_AT_A_TIME = {
    "whole-node trials": {"run_or_experiment": tune.with_resources(three_steps, {"cpu": 4})},
    "max_concurrent_trials": {"run_or_experiment": three_steps, "max_concurrent_trials": 1},
}


@pytest.mark.parametrize("sequential", list(ONE_AT_A_TIME))
def test_interrupted_run_resumes(tmp_path, sequential):
    """tune.run interrupted mid-experiment re-raises KeyboardInterrupt; resume=True finishes only what was left."""
    kwargs = dict(
        config={"x": tune.grid_search([0, 1, 2, 3])},
        name="exp",
        storage_path=str(tmp_path),
        verbose=0,
        **ONE_AT_A_TIME[sequential],
    )
    with pytest.raises(KeyboardInterrupt):
        tune.run(callbacks=[InterruptAfter(8)], **kwargs)
    path = str(tmp_path / "exp")
    before = finished_trials(path)
    assert len(before) == 2 and set(before.values()) == {3}, before
    # A grid's trials all exist up front, except that max_concurrent_trials has the
    # generator create only as many as may be live (both as in Ray).
    statuses = sorted(t.status for t in tune.ExperimentAnalysis(path).trials)
    left = ["PENDING"] if "max_concurrent_trials" in ONE_AT_A_TIME[sequential] else ["PENDING", "PENDING"]
    assert statuses == [*left, "TERMINATED", "TERMINATED"], statuses

    analysis = tune.run(resume=True, **kwargs)
    assert sorted(t.config["x"] for t in analysis.trials) == [0, 1, 2, 3]
    assert all(t.status == "TERMINATED" for t in analysis.trials), [t.status for t in analysis.trials]
    for trial_dir, n in before.items():
        assert len(result_lines(trial_dir)) == n, f"{trial_dir} was run again"
    for trial in analysis.trials:
        assert result_lines(trial.path)[-1]["i"] == 3


def test_tuner_restore_finishes_an_interrupted_experiment(tmp_path):
    """Tuner.restore(path, trainable).fit() finishes an interrupted Tuner run with its original settings."""
    trainable = tune.with_resources(three_steps, {"cpu": 4})  # one trial at a time
    tuner = tune.Tuner(
        trainable,
        param_space={"x": tune.grid_search([0, 1, 2, 3])},
        tune_config=tune.TuneConfig(metric="x", mode="max"),
        run_config=tune.RunConfig(
            storage_path=str(tmp_path), name="exp", verbose=0, callbacks=[InterruptAfter(8)]
        ),
    )
    with pytest.raises(KeyboardInterrupt):
        tuner.fit()
    path = str(tmp_path / "exp")
    assert tune.Tuner.can_restore(path)
    before = finished_trials(path)
    assert len(before) == 2, before

    grid = tune.Tuner.restore(path, trainable).fit()
    assert sorted(r.config["x"] for r in grid) == [0, 1, 2, 3]
    assert len(grid) == 4 and grid.num_errors == 0
    assert all(r.metrics["i"] == 3 for r in grid)
    for trial_dir, n in before.items():
        assert len(result_lines(trial_dir)) == n, f"{trial_dir} was run again"
    assert grid.get_best_result().config == {"x": 3}  # the restored run keeps metric/mode


# -- population based training -------------------------------------------------------------------------


def pbt_trainable(config):
    """Score grows by lr per step; the checkpoint records whose it is, so exploits are visible."""
    own = tune.get_context().get_trial_id()
    state = restored_state() or {"score": 0.0, "step": 0, "owner": own}
    restored_owner = state["owner"] if tune.get_checkpoint() is not None else None
    while state["step"] < 8:
        state["step"] += 1
        state["score"] += config["lr"]
        state["owner"] = own
        metrics = {
            "score": state["score"],
            "step": state["step"],
            "lr": config["lr"],
            "restored_owner": restored_owner,
        }
        report_with_checkpoint(metrics, state)


def test_pbt_exploits_other_trials_checkpoints(tmp_path):
    """PBT (4 trials, perturbation_interval=2): bad trials restart from a good trial's checkpoint, with a new lr."""
    pbt = PopulationBasedTraining(
        time_attr="training_iteration",
        perturbation_interval=2,
        hyperparam_mutations={"lr": [0.001, 0.01, 0.1, 1.0]},
    )
    analysis = tune.run(
        pbt_trainable,
        config={"lr": tune.grid_search([0.001, 0.01, 0.1, 1.0])},
        metric="score",
        mode="max",
        scheduler=pbt,
        resources_per_trial={"cpu": 2},  # two at a time on 4 CPUs: the rest wait, so PBT pauses and exploits
        storage_path=str(tmp_path),
        verbose=0,
    )
    assert len(analysis.trials) == 4
    assert all(t.status == "TERMINATED" for t in analysis.trials)
    by_id = {t.trial_id: result_lines(t.path) for t in analysis.trials}
    exploits = 0
    for trial_id, lines in by_id.items():
        for prev, cur in itertools.pairwise(lines):
            source = cur["restored_owner"]
            if source is None or source == prev["restored_owner"] or source == trial_id:
                continue  # no restore, the same one, or its own checkpoint after a pause
            # Restarted from another trial's checkpoint: the score goes on from that trial's.
            assert source in by_id
            base = cur["score"] - cur["lr"]
            saved = [r["score"] for r in by_id[source] if r["step"] == cur["step"] - 1]
            assert any(abs(v - base) < 1e-9 for v in saved), (cur, saved)
            exploits += 1
    assert exploits >= 1, by_id
    # Ray continues training_iteration from the checkpoint a trial restores: time_attr never goes back.
    for lines in by_id.values():
        assert [r["training_iteration"] for r in lines] == [r["step"] for r in lines]


# -- wait_for_gpu ---------------------------------------------------------------------------------------


@pytest.mark.skipif(shutil.which("nvidia-smi") is not None, reason="this machine has NVIDIA's driver")
def test_wait_for_gpu_without_nvml_raises_clearly(tmp_path):
    """tune.utils.wait_for_gpu() without NVML raises RuntimeError saying so, in the driver and in a GPU trial."""
    with pytest.raises(RuntimeError, match="NVML"):
        tune.utils.wait_for_gpu(gpu_id=0, retry=1, delay_s=0)
    greenroom.shutdown()
    greenroom.init(num_cpus=2, num_gpus=1)
    analysis = tune.run(
        lambda config: tune.report(ok=tune.utils.wait_for_gpu(retry=1, delay_s=0)),
        resources_per_trial={"gpu": 1},
        storage_path=str(tmp_path),
        verbose=0,
        raise_on_failed_trial=False,
    )
    (trial,) = analysis.trials
    assert trial.status == "ERROR"
    assert "RuntimeError" in trial.error and "NVML" in trial.error
