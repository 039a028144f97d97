"""TorchTrainer with real worker processes: a gloo process group, DDP, DistributedSampler.

Skipped only when torch is not installed. One node for the module: the first trainer imports
torch once in the node's zygote, and every later worker starts with it.
"""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

import greenroom
from greenroom import train
from greenroom.train import RunConfig, ScalingConfig, TrainingFailedError, UserCallback
from greenroom.train.torch import TorchConfig, TorchTrainer, get_device, prepare_data_loader, prepare_model


@pytest.fixture(scope="module", autouse=True)
def node():
    greenroom.init(num_cpus=2, num_gpus=2)
    yield
    greenroom.shutdown()


class Collect(UserCallback):
    def __init__(self) -> None:
        self.rounds: list[list[dict]] = []

    def after_report(self, run_context, metrics, checkpoint):
        self.rounds.append(metrics)


def regression_loop(config):
    import os

    import torch.distributed as dist

    torch.manual_seed(0)  # the same data and initial weights on every rank
    x = torch.randn(64, 4)
    y = x @ torch.tensor([1.0, -2.0, 3.0, 0.5]) + 0.1
    indexed = torch.utils.data.TensorDataset(x, y, torch.arange(64))
    loader = prepare_data_loader(torch.utils.data.DataLoader(indexed, batch_size=8, shuffle=True))
    model = prepare_model(torch.nn.Linear(4, 1))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05)
    for epoch in range(config["epochs"]):
        loader.sampler.set_epoch(epoch)
        seen, total = [], 0.0
        for xb, yb, ib in loader:
            optimizer.zero_grad()
            loss = ((model(xb).squeeze(-1) - yb) ** 2).mean()
            loss.backward()
            optimizer.step()
            total += loss.item()
            seen += ib.tolist()
        train.report({
            "loss": total, "grads": [p.grad.flatten().tolist() for p in model.parameters()], "seen": seen,
            "env": {k: os.environ[k] for k in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT")},
            "backend": dist.get_backend(), "ddp": type(model).__name__, "device": str(get_device()),
        })  # fmt: skip


def test_two_gloo_workers_train_a_model_with_equal_gradients(tmp_path):
    """2 workers: torchrun's variables set per rank, gloo, DDP; each rank sees half the data, gradients
    are the same on both ranks after every step's all-reduce, and the loss falls."""
    collect = Collect()
    trainer = TorchTrainer(
        regression_loop, train_loop_config={"epochs": 5}, scaling_config=ScalingConfig(num_workers=2),
        run_config=RunConfig(storage_path=str(tmp_path), name="torch", callbacks=[collect]),
    )  # fmt: skip
    result = trainer.fit()
    first, last = collect.rounds[0], collect.rounds[-1]
    for ranks in collect.rounds:
        assert ranks[0]["grads"] == ranks[1]["grads"]
    assert sorted(first[0]["seen"] + first[1]["seen"]) == list(range(64))  # disjoint halves
    assert len(first[0]["seen"]) == len(first[1]["seen"]) == 32
    assert last[0]["loss"] < first[0]["loss"] / 4 and result.metrics["loss"] == last[0]["loss"]
    assert [r["env"]["RANK"] for r in first] == ["0", "1"] and [r["env"]["LOCAL_RANK"] for r in first] == [
        "0",
        "1",
    ]
    assert {r["env"]["WORLD_SIZE"] for r in first} == {"2"} and {r["env"]["MASTER_ADDR"] for r in first} == {
        "127.0.0.1"
    }
    assert first[0]["env"]["MASTER_PORT"] == first[1]["env"]["MASTER_PORT"]
    assert {r["backend"] for r in first} == {"gloo"} and {r["ddp"] for r in first} == {
        "DistributedDataParallel"
    }
    assert {r["device"] for r in first} == {"cpu"}


def test_each_fit_forms_a_new_group_and_one_worker_runs_unwrapped(tmp_path):
    """A second fit works (the first one's group was torn down); with one worker the model is not wrapped."""

    def loop():
        import torch.distributed as dist

        model = prepare_model(torch.nn.Linear(2, 1))
        train.report({"world": dist.get_world_size(), "wrapped": type(model).__name__})

    config = TorchConfig(init_method="tcp")
    result = TorchTrainer(
        loop, torch_config=config, run_config=RunConfig(storage_path=str(tmp_path), name="one")
    ).fit()
    assert result.metrics == {"world": 1, "wrapped": "Linear"}


@pytest.mark.skipif(torch.cuda.is_available(), reason="this torch finds CUDA: NCCL would work here")
def test_gpu_workers_without_cuda_fail_saying_so(tmp_path):
    """use_gpu=True picks NCCL; a CPU-only torch fails the run with what to change, not a hang."""
    trainer = TorchTrainer(
        lambda: None, scaling_config=ScalingConfig(num_workers=2, use_gpu=True),
        run_config=RunConfig(storage_path=str(tmp_path), name="gpu"),
    )  # fmt: skip
    with pytest.raises(TrainingFailedError, match="finds no CUDA device") as info:
        trainer.fit()
    assert "use_gpu=False" in str(info.value)
    assert greenroom.available_resources()["GPU"] == 2


def test_bad_torch_config_fails_at_construction():
    with pytest.raises(ValueError, match="backend='mpi'"):
        TorchConfig(backend="mpi")
    with pytest.raises(TypeError, match="torch_config"):
        TorchTrainer(lambda: None, torch_config={"backend": "gloo"})
