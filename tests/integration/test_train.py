"""greenroom.train's DataParallelTrainer with real worker processes: ranks, reports, checkpoints,
dataset shards, failures and retries, GPU ids, and ``train.report`` inside Tune trials.

Every run writes under ``tmp_path`` (``RunConfig(storage_path=...)``).
"""

from __future__ import annotations

import json
import os
import signal
import tempfile
from pathlib import Path

import pytest

import greenroom
from greenroom import train, tune
from greenroom.air import session
from greenroom.train import (
    Checkpoint,
    CheckpointConfig,
    DataParallelTrainer,
    FailureConfig,
    RunConfig,
    ScalingConfig,
    TrainingFailedError,
    UserCallback,
)


@pytest.fixture
def cpus4():
    greenroom.init(num_cpus=4, num_gpus=0)
    yield
    greenroom.shutdown()


def run_config(tmp_path, name: str = "run", **kwargs) -> RunConfig:
    return RunConfig(storage_path=str(tmp_path), name=name, **kwargs)


class Collect(UserCallback):
    """Keeps every rank's metrics of every round (the callback runs in the driver)."""

    def __init__(self) -> None:
        self.rounds: list[list[dict]] = []
        self.errors: list[dict] = []

    def after_report(self, run_context, metrics, checkpoint):
        self.rounds.append(metrics)

    def after_exception(self, run_context, worker_exceptions):
        self.errors.append(worker_exceptions)


def context_loop(config):
    ctx = train.get_context()
    shard = train.get_dataset_shard("items")
    for step in range(config["steps"]):
        with tempfile.TemporaryDirectory() as d:
            Path(d, f"rank{ctx.get_world_rank()}.txt").write_text(f"{step}")
            train.report(
                {
                    "step": step, "rank": ctx.get_world_rank(), "world_size": ctx.get_world_size(),
                    "local_rank": ctx.get_local_rank(), "local_world_size": ctx.get_local_world_size(),
                    "node_rank": ctx.get_node_rank(), "shard": list(shard), "pid": os.getpid(),
                    "experiment": ctx.get_experiment_name(), "trial": ctx.get_trial_name(),
                    "metadata": ctx.get_metadata(),
                },
                checkpoint=Checkpoint.from_directory(d),
            )  # fmt: skip


def test_two_workers_ranks_reports_checkpoints_and_shards(cpus4, tmp_path):
    """2 workers: ranks 0 and 1 in distinct processes, rank 0's metrics are the result, both ranks'
    checkpoint files land in one committed checkpoint per round, and each gets half the dataset."""
    collect = Collect()
    trainer = DataParallelTrainer(
        context_loop, train_loop_config={"steps": 3}, scaling_config=ScalingConfig(num_workers=2),
        datasets={"items": list(range(5))}, metadata={"owner": "test"},
        run_config=run_config(tmp_path, "ranks", callbacks=[collect]),
    )  # fmt: skip
    result = trainer.fit()
    assert result.error is None
    assert result.metrics["rank"] == 0 and result.metrics["step"] == 2
    assert result.path == str(tmp_path / "ranks")
    assert len(collect.rounds) == 3
    for step, ranks in enumerate(collect.rounds):
        assert [m["rank"] for m in ranks] == [0, 1] and {m["step"] for m in ranks} == {step}
        assert {m["world_size"] for m in ranks} == {2} and [m["local_rank"] for m in ranks] == [0, 1]
        assert {m["local_world_size"] for m in ranks} == {2} and {m["node_rank"] for m in ranks} == {0}
    first = collect.rounds[0]
    assert first[0]["pid"] != first[1]["pid"] != os.getpid()
    assert first[0]["shard"] == [0, 1, 2] and first[1]["shard"] == [3, 4]
    assert first[0]["experiment"] == first[0]["trial"] == "ranks" and first[0]["metadata"] == {
        "owner": "test"
    }
    # Checkpoints: one directory per round holding every rank's files.
    assert result.checkpoint.path == str(tmp_path / "ranks" / "checkpoint_000002")
    with result.checkpoint.as_directory() as d:
        assert sorted(os.listdir(d)) == ["rank0.txt", "rank1.txt"]
        assert Path(d, "rank1.txt").read_text() == "2"
    assert [c.path for c, _ in result.best_checkpoints] == [
        str(tmp_path / "ranks" / f"checkpoint_{i:06d}") for i in range(3)
    ]
    assert not (tmp_path / "ranks" / ".staging").exists()
    # Files on disk, read back as Ray's.
    assert json.loads((tmp_path / "ranks" / "params.json").read_text()) == {"steps": 3}
    assert result.metrics_dataframe["step"].tolist() == [0, 1, 2]
    again = train.Result.from_path(result.path)
    assert again.metrics["step"] == 2 and again.checkpoint == result.checkpoint
    assert greenroom.available_resources()["CPU"] == 4


def test_checkpoint_config_keeps_the_best(cpus4, tmp_path):
    """num_to_keep=2 by score: the two lowest losses stay (and the latest, which resumes)."""

    def loop():
        for loss in (5.0, 1.0, 3.0, 2.0):
            with tempfile.TemporaryDirectory() as d:
                Path(d, "loss").write_text(str(loss))
                train.report({"loss": loss}, checkpoint=Checkpoint.from_directory(d))

    keep = CheckpointConfig(num_to_keep=2, checkpoint_score_attribute="loss", checkpoint_score_order="min")
    result = DataParallelTrainer(loop, run_config=run_config(tmp_path, checkpoint_config=keep)).fit()
    kept = sorted(n for n in os.listdir(result.path) if n.startswith("checkpoint_"))
    assert kept == ["checkpoint_000001", "checkpoint_000003"]
    assert result.get_best_checkpoint("loss", "min").path.endswith("checkpoint_000001")


def test_checkpoint_dir_name(cpus4, tmp_path):
    """train.report(..., checkpoint_dir_name=...) names the committed directory."""

    def loop():
        with tempfile.TemporaryDirectory() as d:
            Path(d, "w").write_text("1")
            train.report({"x": 1}, checkpoint=Checkpoint.from_directory(d), checkpoint_dir_name="epoch_7")

    result = DataParallelTrainer(
        loop, scaling_config=ScalingConfig(num_workers=2), run_config=run_config(tmp_path)
    ).fit()
    assert result.checkpoint.path == str(tmp_path / "run" / "epoch_7")


MARK = "killed_once"


def resumable_loop(config):
    """Counts steps from its checkpoint; rank 1 SIGKILLs itself at step 2 the first time."""
    ctx = train.get_context()
    checkpoint = train.get_checkpoint()
    start = int(Path(checkpoint.path, "step").read_text()) + 1 if checkpoint else 0
    for step in range(start, 4):
        mark = Path(config["dir"], MARK)
        if step == 2 and ctx.get_world_rank() == 1 and not mark.exists():
            mark.touch()
            os.kill(os.getpid(), signal.SIGKILL)
        with tempfile.TemporaryDirectory() as d:
            if ctx.get_world_rank() == 0:
                Path(d, "step").write_text(str(step))
            train.report({"step": step, "start": start}, checkpoint=Checkpoint.from_directory(d))


def test_a_killed_worker_fails_the_attempt_and_it_resumes_from_the_last_checkpoint(cpus4, tmp_path):
    """max_failures=1: rank 1 dies by SIGKILL at step 2; the group is torn down and started again from
    step 1's checkpoint; the run finishes at step 3 and every CPU is free again."""
    collect = Collect()
    trainer = DataParallelTrainer(
        resumable_loop, train_loop_config={"dir": str(tmp_path)}, scaling_config=ScalingConfig(num_workers=2),
        run_config=run_config(tmp_path, failure_config=FailureConfig(max_failures=1), callbacks=[collect]),
    )  # fmt: skip
    result = trainer.fit()
    assert [(r["step"], r["start"]) for r in result.metrics_dataframe.to_dict("records")] == [
        (0, 0), (1, 0), (2, 2), (3, 2),
    ]  # fmt: skip
    assert result.metrics == {"step": 3, "start": 2}
    ((rank, error),) = collect.errors[0].items()
    assert rank == 1 and "SIGKILL" in str(error)
    assert greenroom.available_resources()["CPU"] == 4


def test_a_killed_worker_without_retries_fails_fit_naming_rank_pid_and_signal(cpus4, tmp_path):
    trainer = DataParallelTrainer(
        resumable_loop, train_loop_config={"dir": str(tmp_path)}, scaling_config=ScalingConfig(num_workers=2),
        run_config=run_config(tmp_path),
    )  # fmt: skip
    with pytest.raises(TrainingFailedError) as info:
        trainer.fit()
    message = str(info.value)
    assert "worker rank 1 (pid " in message and "died" in message and "SIGKILL" in message
    assert "max_failures" in message
    assert greenroom.available_resources()["CPU"] == 4


def test_a_loop_that_raises_fails_fit_with_its_traceback_and_cause(cpus4, tmp_path):
    def loop():
        if train.get_context().get_world_rank() == 1:
            raise ValueError("bad batch 7")
        train.report({"x": 1})

    trainer = DataParallelTrainer(
        loop, scaling_config=ScalingConfig(num_workers=2), run_config=run_config(tmp_path)
    )
    with pytest.raises(TrainingFailedError, match="worker rank 1 .* raised") as info:
        trainer.fit()
    assert "ValueError: bad batch 7" in str(info.value)
    assert isinstance(info.value.__cause__, ValueError)


def test_unequal_report_counts_are_a_clear_error(cpus4, tmp_path):
    """Rank 0 reports twice, rank 1 once: TrainingFailedError saying so, without a retry."""

    def loop():
        train.report({"x": 0})
        if train.get_context().get_world_rank() == 0:
            train.report({"x": 1})

    trainer = DataParallelTrainer(
        loop, scaling_config=ScalingConfig(num_workers=2),
        run_config=run_config(tmp_path, failure_config=FailureConfig(max_failures=3)),
    )  # fmt: skip
    with pytest.raises(TrainingFailedError, match="the same number of times") as info:
        trainer.fit()
    assert "rank 0 reported 2 times" in str(info.value) and "rank 1 returned after 1" in str(info.value)
    assert "attempts" not in str(info.value)


def test_an_unfinished_run_of_the_same_name_resumes(cpus4, tmp_path):
    """A fit() that failed for good leaves its run unfinished; the next fit() of that name resumes from
    its latest checkpoint (Ray Train V2), and a fit() after a finished run starts fresh."""
    config = {"dir": str(tmp_path)}
    trainer = DataParallelTrainer(resumable_loop, train_loop_config=config, scaling_config=ScalingConfig(num_workers=2),
                                  run_config=run_config(tmp_path, "same"))  # fmt: skip
    with pytest.raises(TrainingFailedError):
        trainer.fit()
    result = trainer.fit()
    assert [r["step"] for r in result.metrics_dataframe.to_dict("records")] == [0, 1, 2, 3]
    assert result.metrics == {"step": 3, "start": 2}
    fresh = trainer.fit()
    assert [r["step"] for r in fresh.metrics_dataframe.to_dict("records")] == [0, 1, 2, 3]
    assert fresh.checkpoint.path.endswith("checkpoint_000007")


def test_resume_from_checkpoint_is_what_get_checkpoint_starts_with(cpus4, tmp_path):
    start = tmp_path / "given"
    start.mkdir()
    (start / "step").write_text("2")
    trainer = DataParallelTrainer(resumable_loop, train_loop_config={"dir": str(tmp_path)},
                                  resume_from_checkpoint=Checkpoint.from_directory(start),
                                  run_config=run_config(tmp_path))  # fmt: skip
    result = trainer.fit()
    assert result.metrics == {"step": 3, "start": 3}


def test_gpu_ids_and_cuda_visible_devices_per_worker(tmp_path):
    """init(num_gpus=4): 2 workers of 1 GPU each see their own distinct id, in both places;
    half-GPU workers share one; CPU workers see none."""
    greenroom.init(num_cpus=2, num_gpus=4)
    try:

        def loop():
            train.report(
                {"ids": [str(g) for g in greenroom.get_gpu_ids()], "cvd": os.environ["CUDA_VISIBLE_DEVICES"]}
            )

        collect = Collect()
        DataParallelTrainer(loop, scaling_config=ScalingConfig(num_workers=2, use_gpu=True),
                            run_config=run_config(tmp_path, "gpu", callbacks=[collect])).fit()  # fmt: skip
        (ranks,) = collect.rounds
        assert all(m["ids"] == [m["cvd"]] for m in ranks)
        assert len({m["cvd"] for m in ranks}) == 2 and {m["cvd"] for m in ranks} <= {"0", "1", "2", "3"}
        half = Collect()
        scaling = ScalingConfig(num_workers=2, use_gpu=True, resources_per_worker={"GPU": 0.5, "CPU": 0})
        DataParallelTrainer(
            loop, scaling_config=scaling, run_config=run_config(tmp_path, "half", callbacks=[half])
        ).fit()
        assert half.rounds[0][0]["cvd"] == half.rounds[0][1]["cvd"] != ""
        cpu = Collect()
        DataParallelTrainer(loop, scaling_config=ScalingConfig(num_workers=2),
                            run_config=run_config(tmp_path, "cpu", callbacks=[cpu])).fit()  # fmt: skip
        assert [m["cvd"] for m in cpu.rounds[0]] == ["", ""]
    finally:
        greenroom.shutdown()


def test_a_scaling_config_the_node_can_never_place_fails_at_fit(tmp_path):
    """num_workers=3, use_gpu=True on 2 GPUs: ValueError naming what was asked and what exists, at once."""
    greenroom.init(num_cpus=2, num_gpus=2)
    try:
        trainer = DataParallelTrainer(lambda: None, scaling_config=ScalingConfig(num_workers=3, use_gpu=True),
                                      run_config=run_config(tmp_path))  # fmt: skip
        with pytest.raises(ValueError, match=r"ScalingConfig\(num_workers=3, use_gpu=True\)") as info:
            trainer.fit()
        assert "{'GPU': 2} in total" in str(info.value) and "Lower num_workers to 2" in str(info.value)
        assert greenroom.available_resources()["GPU"] == 2
    finally:
        greenroom.shutdown()


def test_bad_trainer_arguments_fail_at_construction():
    with pytest.raises(ValueError, match="more than one argument"):
        DataParallelTrainer(lambda a, b: None)
    with pytest.raises(TypeError, match="scaling_config"):
        DataParallelTrainer(lambda: None, scaling_config={"num_workers": 2})
    with pytest.raises(ValueError, match="dataset_config"):
        DataParallelTrainer(lambda: None, dataset_config=object())


def test_train_functions_outside_a_worker_or_trial_say_where_to_call_them():
    for call in (lambda: train.report({"x": 1}), train.get_checkpoint, train.get_context):
        with pytest.raises(RuntimeError, match="outside a training worker and outside a Tune trial"):
            call()
    with pytest.raises(RuntimeError, match="get_dataset_shard"):
        train.get_dataset_shard("x")


def test_unknown_dataset_shard_names_the_given_ones(cpus4, tmp_path):
    def loop():
        train.get_dataset_shard("valid")

    trainer = DataParallelTrainer(loop, datasets={"train": [1, 2]}, run_config=run_config(tmp_path))
    with pytest.raises(
        TrainingFailedError, match=r"no dataset named 'valid'; the trainer's datasets= has \['train'\]"
    ):
        trainer.fit()


# -- train.* inside a Tune function trainable (Ray 2.7-2.40) ----------------------------------------


def test_train_namespace_reports_to_a_tune_trial(cpus4, tmp_path):
    """train.report / get_checkpoint / get_context and air.session.report inside a Tune function
    trainable behave as tune's; RunConfig, CheckpointConfig, FailureConfig and Checkpoint are tune's."""
    assert train.RunConfig is tune.RunConfig and train.CheckpointConfig is tune.CheckpointConfig
    assert train.FailureConfig is tune.FailureConfig and train.Checkpoint is tune.Checkpoint
    assert greenroom.air.ScalingConfig is train.ScalingConfig

    def trainable(config):
        ctx = train.get_context()
        start = train.get_checkpoint()
        with tempfile.TemporaryDirectory() as d:
            Path(d, "w").write_text("1")
            train.report({"loss": 2.0, "name": ctx.get_trial_name(), "rank": ctx.get_world_rank(),
                          "size": ctx.get_world_size(), "fresh": start is None},
                         checkpoint=train.Checkpoint.from_directory(d))  # fmt: skip
        session.report({"loss": 1.0, "name": session.get_trial_name()})

    grid = tune.Tuner(
        trainable, run_config=tune.RunConfig(storage_path=str(tmp_path), name="ns", verbose=0)
    ).fit()
    (result,) = grid
    assert result.error is None and result.metrics["loss"] == 1.0
    assert result.metrics["name"].startswith("trainable_")
    assert Path(result.checkpoint.path, "w").read_text() == "1"
    lines = [json.loads(line) for line in Path(result.path, "result.json").read_text().splitlines()]
    assert lines[0]["rank"] == 0 and lines[0]["size"] == 1 and lines[0]["fresh"] is True
