"""greenroom's Tune, unchanged, on a Ray cluster: trials are Ray actors, files land as on one machine."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import pytest

import greenroom
from greenroom import tune

pytestmark = [pytest.mark.ray_backend, pytest.mark.timeout(180)]


def trainable(config):
    for step in range(3):
        tune.report({"loss": config["lr"] * (3 - step), "gpus": len(greenroom.get_gpu_ids())})


def checkpointing(config):
    start = 0
    checkpoint = tune.get_checkpoint()
    if checkpoint is not None:
        with checkpoint.as_directory() as d:
            start = int(Path(d, "step").read_text())
    for step in range(start, config["steps"]):
        with tempfile.TemporaryDirectory() as d:
            Path(d, "step").write_text(str(step + 1))
            tune.report({"step": step + 1}, checkpoint=tune.Checkpoint.from_directory(d))


def test_tune_run_on_ray(on_ray, tmp_path):
    """tune.run: every trial ends, its results are on disk, ExperimentAnalysis reads them."""
    analysis = tune.run(
        trainable, config={"lr": tune.grid_search([0.1, 0.2])}, resources_per_trial={"cpu": 1, "gpu": 1},
        storage_path=str(tmp_path), name="exp", verbose=0,
    )  # fmt: skip
    assert sorted(t.status for t in analysis.trials) == ["TERMINATED", "TERMINATED"]
    best = analysis.get_best_config(metric="loss", mode="min")
    assert best == {"lr": 0.1}
    for trial in analysis.trials:
        with open(os.path.join(trial.path, "result.json")) as f:
            lines = [json.loads(line) for line in f if line.strip()]
        assert len(lines) == 3 and lines[-1]["gpus"] == 1
    assert (tmp_path / "exp" / "experiment_state.json").exists()


def test_tuner_with_placement_group_factory(on_ray, tmp_path):
    """Tuner.fit with PlacementGroupFactory trials; the ResultGrid reads them."""
    trainable_with = tune.with_resources(trainable, tune.PlacementGroupFactory([{"CPU": 1}, {"CPU": 0.5}]))
    tuner = tune.Tuner(
        trainable_with, param_space={"lr": tune.grid_search([0.3, 0.4])},
        tune_config=tune.TuneConfig(metric="loss", mode="min"),
        run_config=tune.RunConfig(storage_path=str(tmp_path), name="tuner", verbose=0),
    )  # fmt: skip
    grid = tuner.fit()
    assert len(grid) == 2 and not grid.errors
    assert grid.get_best_result().config == {"lr": 0.3}


def test_resume_across_backends(ray_head, tmp_path):
    """An experiment started on greenroom's own node resumes on the cluster from its checkpoints."""
    greenroom.shutdown()
    greenroom.init(num_cpus=2, num_gpus=0)
    try:
        tune.run(checkpointing, config={"steps": 2}, storage_path=str(tmp_path), name="resume", verbose=0)
    finally:
        greenroom.shutdown()
    state = tmp_path / "resume" / "experiment_state.json"
    assert state.exists()
    greenroom.init(address="ray:" + ray_head.gcs_address)
    try:
        analysis = tune.run(checkpointing, config={"steps": 2}, storage_path=str(tmp_path), name="resume",
                            resume=True, verbose=0)  # fmt: skip
        (trial,) = analysis.trials
        assert trial.status == "TERMINATED" and trial.last_result["step"] == 2
    finally:
        greenroom.shutdown()


def world_info(config):
    from greenroom import train

    ctx = train.get_context()
    train.report({"rank": ctx.get_world_rank(), "size": ctx.get_world_size(), "x": config["x"]})


def test_data_parallel_trainer_on_ray(on_ray, tmp_path):
    """greenroom.train's DataParallelTrainer runs its worker group as Ray actors in a placement group."""
    from greenroom.train import RunConfig, ScalingConfig
    from greenroom.train.data_parallel_trainer import DataParallelTrainer

    trainer = DataParallelTrainer(
        world_info, train_loop_config={"x": 3}, scaling_config=ScalingConfig(num_workers=2),
        run_config=RunConfig(storage_path=str(tmp_path), name="dp"),
    )  # fmt: skip
    result = trainer.fit()
    assert result.error is None
    assert result.metrics["rank"] == 0 and result.metrics["size"] == 2 and result.metrics["x"] == 3
