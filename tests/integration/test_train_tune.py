"""Distributed training inside Tune trials, both ways Ray users write it, with real processes.

- ``Tuner(trainer, param_space=...)`` (Ray Train V1): one trainer per trial, each trial reserving its
  coordinator and worker bundles at once, so trials overlap exactly as resources allow.
- A function trainable that calls ``trainer.fit()`` with ``TuneReportCallback`` (Ray Train V2): the
  trainer's workers hold their own resources; ``max_concurrent_trials`` bounds the trainers, and trials
  whose trainers could never be placed fail the experiment with a message instead of hanging.

Trials that must overlap meet at a file barrier (with a deadline) before they report their interval.
"""

from __future__ import annotations

import itertools
import os
import tempfile
import time
import uuid
from pathlib import Path

import pytest
from helpers import wait_for

import greenroom
from greenroom import train, tune
from greenroom.train import Checkpoint, DataParallelTrainer, RunConfig, ScalingConfig
from greenroom.tune.integration.ray_train import TuneReportCallback
from greenroom.tune.schedulers import ASHAScheduler, PopulationBasedTraining

BARRIER_S = 5.0
HOLD_S = 0.2


@pytest.fixture(autouse=True)
def cpus4():
    greenroom.init(num_cpus=4, num_gpus=0)
    yield
    greenroom.shutdown()


def interval_loop(config):
    """Rank 0 meets ``parties`` other trials' rank 0 at a barrier; every rank reports."""
    ctx = train.get_context()
    t0 = time.time()
    if ctx.get_world_rank() == 0:
        directory = config["barrier"]
        Path(directory, uuid.uuid4().hex).touch()
        deadline = time.monotonic() + BARRIER_S
        while len(os.listdir(directory)) < config["parties"] and time.monotonic() < deadline:
            time.sleep(0.01)  # polling files the other trials write, bounded by the deadline
    time.sleep(HOLD_S)
    train.report({"start": t0, "end": time.time(), "rank": ctx.get_world_rank(), "size": ctx.get_world_size(),
                  "lr": config["lr"], "trial": ctx.get_trial_name()})  # fmt: skip


def max_overlap(spans: list[tuple[float, float]]) -> int:
    events = sorted([(s, 1) for s, _ in spans] + [(e, -1) for _, e in spans])
    now = best = 0
    for _, delta in events:
        now += delta
        best = max(best, now)
    return best


def barrier(tmp_path: Path) -> str:
    d = tmp_path / f"barrier-{uuid.uuid4().hex[:6]}"
    d.mkdir()
    return str(d)


@pytest.mark.parametrize(
    "trainer_resources, parties, overlap",
    [({"CPU": 0}, 2, 2), (None, 1, 1)],  # 2 + 2 CPUs fit twice in 4; 1 + 2 CPUs only once
    ids=["two-cpus-per-trial", "three-cpus-per-trial"],
)
def test_tuner_over_a_trainer_runs_as_many_trials_as_resources_allow(
    tmp_path, trainer_resources, parties, overlap
):
    """Tuner(trainer) with 2 trials x 2 workers on 4 CPUs: each trial holds its coordinator and worker
    bundles together, rank 0's metrics are each trial's results, and the trainer's RunConfig is used."""
    scaling = ScalingConfig(num_workers=2, trainer_resources=trainer_resources)
    trainer = DataParallelTrainer(
        interval_loop, train_loop_config={"barrier": barrier(tmp_path), "parties": parties},
        scaling_config=scaling, run_config=RunConfig(storage_path=str(tmp_path), name="v1", verbose=0),
    )  # fmt: skip
    grid = tune.Tuner(trainer, param_space={"train_loop_config": {"lr": tune.grid_search([0.1, 0.2])}}).fit()
    assert grid.num_errors == 0 and len(grid) == 2
    assert sorted(r.metrics["lr"] for r in grid) == [0.1, 0.2]
    assert all(r.metrics["rank"] == 0 and r.metrics["size"] == 2 for r in grid)
    assert all(r.path.startswith(str(tmp_path / "v1" / "DataParallelTrainer_")) for r in grid)
    assert all(r.metrics["trial"] == os.path.basename(r.path)[: len(r.metrics["trial"])] for r in grid)
    assert max_overlap([(r.metrics["start"], r.metrics["end"]) for r in grid]) == overlap
    assert greenroom.available_resources()["CPU"] == 4


def asha_loop(config):
    """Loss falls with q + 1/i on rank 0; rank 1 reports a decoy loss the scheduler must not see."""
    rank = train.get_context().get_world_rank()
    for i in range(1, 9):
        train.report({"loss": config["q"] + 1.0 / i if rank == 0 else -100.0})


def test_asha_on_trainers_is_driven_by_rank_zero(tmp_path):
    """ASHA over 4 trainer trials, one at a time: the best trial (q=0) runs all 8 iterations, worse
    ones are cut early, and the best result is rank 0's loss, not rank 1's decoy."""
    trainer = DataParallelTrainer(asha_loop, scaling_config=ScalingConfig(num_workers=2))
    grid = tune.Tuner(
        trainer,
        param_space={"train_loop_config": {"q": tune.grid_search([0, 1, 2, 3])}},
        tune_config=tune.TuneConfig(metric="loss", mode="min", max_concurrent_trials=1,
                                    scheduler=ASHAScheduler(max_t=8, grace_period=1, reduction_factor=2)),
        run_config=RunConfig(storage_path=str(tmp_path), name="asha", verbose=0),
    ).fit()  # fmt: skip
    iterations = {r.config["train_loop_config"]["q"]: len(r.metrics_dataframe) for r in grid}
    assert iterations[0] == 8 and iterations[3] < 8, iterations
    best = grid.get_best_result()
    assert best.config["train_loop_config"]["q"] == 0 and best.metrics["loss"] == pytest.approx(1 / 8)
    # Stopped trials' workers died with their trial: every CPU is free.
    wait_for(lambda: greenroom.available_resources().get("CPU") == 4, "the stopped trials' CPUs to come back")


def retried_loop(config):
    """Counts steps from its checkpoint; rank 1 SIGKILLs itself at step 2 the first time."""
    import signal

    ctx = train.get_context()
    checkpoint = train.get_checkpoint()
    start = int(Path(checkpoint.path, "step").read_text()) + 1 if checkpoint else 0
    for step in range(start, 4):
        mark = Path(config["dir"], "killed")
        if step == 2 and ctx.get_world_rank() == 1 and not mark.exists():
            mark.touch()
            os.kill(os.getpid(), signal.SIGKILL)
        with tempfile.TemporaryDirectory() as d:
            Path(d, "step").write_text(str(step))
            train.report({"step": step, "start": start}, checkpoint=Checkpoint.from_directory(d))


def test_a_trainer_trial_whose_worker_dies_is_retried_from_its_checkpoint(tmp_path):
    """Tuner(trainer) with the trainer's FailureConfig(max_failures=1): the trial fails naming rank 1's
    SIGKILL, Tune restarts it, and its workers resume from the trial's last checkpoint."""
    trainer = DataParallelTrainer(
        retried_loop, train_loop_config={"dir": str(tmp_path)}, scaling_config=ScalingConfig(num_workers=2),
        run_config=RunConfig(storage_path=str(tmp_path), name="retry", verbose=0,
                             failure_config=train.FailureConfig(max_failures=1)),
    )  # fmt: skip
    (result,) = tune.Tuner(trainer).fit()
    assert result.error is None and result.metrics["step"] == 3 and result.metrics["start"] == 2
    assert [r["step"] for r in result.metrics_dataframe.to_dict("records")] == [0, 1, 2, 3]
    error_txt = Path(result.path, "error.txt").read_text()
    assert "worker rank 1 (pid " in error_txt and "SIGKILL" in error_txt


def pbt_loop(config):
    """score += lr per step, carried in the checkpoint with the trial that wrote it."""
    checkpoint = train.get_checkpoint()
    state = {"score": 0.0, "step": 0, "owner": None}
    if checkpoint:
        owner, step, score = Path(checkpoint.path, "state").read_text().split()
        state = {"score": float(score), "step": int(step), "owner": owner}
    restored = state["owner"]
    me = train.get_context().get_trial_id()
    while state["step"] < 8:
        state["step"] += 1
        state["score"] += config["lr"]
        with tempfile.TemporaryDirectory() as d:
            Path(d, "state").write_text(f"{me} {state['step']} {state['score']}")
            train.report({"score": state["score"], "step": state["step"], "restored": restored},
                         checkpoint=Checkpoint.from_directory(d))  # fmt: skip


def test_pbt_exploits_trainer_checkpoints(tmp_path):
    """PBT over 4 one-worker trainer trials, two at a time (a coordinator CPU and a worker CPU each, so
    waiting trials pause): bad trials restart from a good trial's committed checkpoint
    (train.get_checkpoint() in the worker) with a new lr."""
    pbt = PopulationBasedTraining(
        time_attr="training_iteration", perturbation_interval=2,
        hyperparam_mutations={"train_loop_config": {"lr": [0.001, 0.01, 0.1, 1.0]}},
    )  # fmt: skip
    trainer = DataParallelTrainer(pbt_loop, scaling_config=ScalingConfig(num_workers=1))
    grid = tune.Tuner(
        trainer,
        param_space={"train_loop_config": {"lr": tune.grid_search([0.001, 0.01, 0.1, 1.0])}},
        tune_config=tune.TuneConfig(metric="score", mode="max", scheduler=pbt),
        run_config=RunConfig(storage_path=str(tmp_path), name="pbt", verbose=0),
    ).fit()  # fmt: skip
    assert grid.num_errors == 0
    trial_ids = {
        os.path.basename(r.path).split("_")[1] + "_" + os.path.basename(r.path).split("_")[2] for r in grid
    }
    exploits = 0
    for result in grid:
        rows = result.metrics_dataframe.to_dict("records")
        for prev, cur in itertools.pairwise(rows):
            if cur["restored"] not in (None, prev["restored"]) and cur["restored"] in trial_ids:
                exploits += 1
    assert exploits >= 1


def test_param_space_of_a_trainer_is_checked_before_anything_runs(tmp_path):
    trainer = DataParallelTrainer(asha_loop)
    with pytest.raises(ValueError, match=r"key\(s\) \['lr'\].*train_loop_config"):
        tune.Tuner(trainer, param_space={"lr": tune.uniform(0, 1)}).fit()
    searched = {"scaling_config": ScalingConfig(num_workers=tune.grid_search([1, 2]))}
    with pytest.raises(ValueError, match="same resources"):
        tune.Tuner(trainer, param_space=searched).fit()


# -- Ray Train V2: fit() inside a function trainable ------------------------------------------------


def v2_loop(config):
    ctx = train.get_context()
    with tempfile.TemporaryDirectory() as d:
        Path(d, f"rank{ctx.get_world_rank()}").write_text("w")
        t0 = time.time()
        time.sleep(HOLD_S)
        train.report({"loss": config["lr"], "start": t0, "end": time.time(), "rank": ctx.get_world_rank(),
                      "experiment": ctx.get_experiment_name(), "trial_id": ctx.get_trial_id()},
                     checkpoint=Checkpoint.from_directory(d))  # fmt: skip


def make_driver(storage: str, cpus_per_worker: float):
    def train_driver(config):
        trainer = DataParallelTrainer(
            v2_loop, train_loop_config=config["train_loop_config"],
            scaling_config=ScalingConfig(num_workers=2, resources_per_worker={"CPU": cpus_per_worker}),
            run_config=RunConfig(name=f"train-{tune.get_context().get_trial_id()}", storage_path=storage,
                                 callbacks=[TuneReportCallback()]),
        )  # fmt: skip
        trainer.fit()

    return train_driver


def test_function_trainable_fits_a_trainer_and_reports_through_the_callback(tmp_path):
    """2 trials, each fitting a 2-worker trainer, max_concurrent_trials=1: the trials see rank 0's
    metrics and checkpoint (with checkpoint_path), and the trainers never overlap."""
    grid = tune.Tuner(
        make_driver(str(tmp_path / "train"), 1.0),
        param_space={"train_loop_config": {"lr": tune.grid_search([0.1, 0.2])}},
        tune_config=tune.TuneConfig(metric="loss", mode="min", max_concurrent_trials=1),
        run_config=tune.RunConfig(storage_path=str(tmp_path), name="v2", verbose=0),
    ).fit()  # fmt: skip
    assert grid.num_errors == 0
    for result in grid:
        m = result.metrics
        assert m["rank"] == 0 and m["experiment"] == f"train-{m['trial_id']}"
        assert m["checkpoint_path"] == str(tmp_path / "train" / m["experiment"] / "checkpoint_000000")
        assert sorted(os.listdir(m["checkpoint_path"])) == ["rank0", "rank1"]
        assert result.checkpoint.path.startswith(result.path) and sorted(os.listdir(result.checkpoint.path)) == [
            "rank0", "rank1",
        ]  # fmt: skip
    assert grid.get_best_result().metrics["loss"] == 0.1
    assert max_overlap([(r.metrics["start"], r.metrics["end"]) for r in grid]) == 1
    wait_for(
        lambda: greenroom.available_resources().get("CPU") == 4, "the trials' and trainers' CPUs to come back"
    )


def test_trials_whose_trainers_can_never_be_placed_fail_instead_of_hanging(tmp_path):
    """2 trials of 1 CPU each on 4 CPUs, each fitting a trainer of 2 x 1.5 CPUs: with both trials
    running, 2 CPUs are left and no trainer ever fits. Tune says so (Ray hangs), and every CPU comes back."""
    tuner = tune.Tuner(
        make_driver(str(tmp_path / "train"), 1.5),
        param_space={"train_loop_config": {"lr": tune.grid_search([0.1, 0.2])}},
        run_config=tune.RunConfig(storage_path=str(tmp_path), name="stuck", verbose=0),
    )  # fmt: skip
    with pytest.raises(tune.TuneError, match="no group can ever be placed") as info:
        tuner.fit()
    assert "max_concurrent_trials=1" in str(info.value) and "{'CPU': 3}" in str(info.value)
    wait_for(
        lambda: greenroom.available_resources().get("CPU") == 4, "the trials' and trainers' CPUs to come back"
    )


def test_a_trainer_that_cannot_fit_beside_its_trial_fails_the_trial_at_fit(tmp_path):
    """A trainer of 4 x 1 CPU inside a 1-CPU trial on 4 CPUs: fit() raises at once, naming the trial's CPU."""
    grid = tune.Tuner(
        make_driver(str(tmp_path / "train"), 2.0),
        param_space={"train_loop_config": {"lr": 0.1}},
        run_config=tune.RunConfig(storage_path=str(tmp_path), name="big", verbose=0),
    ).fit()  # fmt: skip
    (error,) = grid.errors
    assert "holds {'CPU': 1} of it" in str(error) and "Lower num_workers to 1" in str(error)
