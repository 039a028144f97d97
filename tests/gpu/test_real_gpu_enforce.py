"""Enforcement checks that need a real NVIDIA GPU and PyTorch: a fractional GPU's memory cap in
torch, and GPU memory left behind as NVML sees it (skipped without a GPU, like test_real_gpu.py).

Run ``python -m pytest tests/gpu`` on a GPU machine.
"""

from __future__ import annotations

import logging
import os

import pytest

import greenroom
from greenroom._config import detect_gpus

pytestmark = [
    pytest.mark.skipif(detect_gpus() == 0, reason="needs an NVIDIA GPU and its driver (NVML)"),
    pytest.mark.timeout(180),
]
torch = pytest.importorskip("torch")


def _nvml_gpu_pids(index: int = 0) -> set[int]:
    import pynvml

    pynvml.nvmlInit()
    try:
        handle = pynvml.nvmlDeviceGetHandleByIndex(index)
        return {p.pid for p in pynvml.nvmlDeviceGetComputeRunningProcesses(handle)}
    finally:
        pynvml.nvmlShutdown()


@pytest.fixture
def gr_gpu():
    greenroom.init(num_cpus=4)
    yield greenroom
    greenroom.shutdown()


def allocate_share(share: float) -> str:
    """Try to allocate ``share`` of the device's memory with torch: 'ok' or the error's type name."""
    import torch

    total = torch.cuda.get_device_properties(0).total_memory
    try:
        block = torch.empty(int(total * share), dtype=torch.uint8, device="cuda")
        del block
        return "ok"
    except torch.cuda.OutOfMemoryError as e:
        return type(e).__name__


def test_a_tenth_of_a_gpu_caps_torch_at_a_tenth(gr_gpu):
    """num_gpus=0.1: torch may take 5% of the device but not 15% (set_per_process_memory_fraction
    applied at CUDA's first use); without the cap, 15% is fine."""

    @greenroom.remote(num_gpus=0.1)
    def tenth():
        caps = greenroom.get_runtime_context().get_resource_limits()["gpu_memory"]
        return allocate_share(0.05), allocate_share(0.15), caps["torch"]

    small, large, cap = greenroom.get(tenth.remote())
    assert (small, large) == ("ok", "OutOfMemoryError")
    assert "set_per_process_memory_fraction(0.1000)" in cap
    uncapped = greenroom.remote(num_gpus=0.1, _enforce={"gpu_memory": False})(lambda: allocate_share(0.15))
    assert greenroom.get(uncapped.remote()) == "ok"


def test_the_jax_and_tensorflow_caps_are_in_a_shares_environment(gr_gpu):
    """What JAX and TensorFlow read at their start is set before any user code runs."""

    @greenroom.remote(num_gpus=0.5)
    def env():
        return os.environ.get("XLA_PYTHON_CLIENT_MEM_FRACTION"), os.environ.get("GREENROOM_GPU_MEMORY_LIMIT_MB")

    fraction, limit_mb = greenroom.get(env.remote())
    total_mb = torch.cuda.get_device_properties(0).total_memory // (1 << 20)
    assert fraction == "0.5000"
    assert abs(int(limit_mb) - total_mb // 2) <= total_mb // 100  # NVML's and CUDA's sizes differ slightly


@greenroom.remote(num_gpus=1)
def use_cuda() -> int:
    import torch

    torch.ones(1 << 20, device="cuda").sum().item()  # a CUDA context, and memory, in this process
    return os.getpid()


@greenroom.remote(num_gpus=1)
def nvml_lists(refs) -> bool:
    """Once the GPU is granted again: does NVML still list the previous holder?"""
    return greenroom.get(refs[0]) in _nvml_gpu_pids()


def test_a_retired_workers_process_is_gone_from_nvml_before_its_gpu_is_granted_again(gr_gpu):
    """max_calls=1: the next GPU task starts only when NVML no longer lists the last one's process."""
    first = use_cuda.remote()
    assert greenroom.get(nvml_lists.remote([first])) is False


def test_memory_a_reused_gpu_worker_keeps_is_reported(gr_gpu, caplog):
    """A GPU task on a worker that lives on (max_calls=0) leaves its CUDA context: greenroom says so,
    naming the task, the GPU and the bytes."""
    with caplog.at_level(logging.WARNING, logger="greenroom"):
        pid = greenroom.get(use_cuda.options(max_calls=0).remote())
    assert f"task 'use_cuda' ended, and its worker (pid={pid}) still holds" in caplog.text
    assert "on GPU 0 (NVML index)" in caplog.text


@greenroom.remote(num_gpus=1)
class CudaActor:
    def pid(self):
        import torch

        self.x = torch.ones(1 << 20, device="cuda")
        return os.getpid()


def test_killing_a_gpu_actor_returns_once_nvml_no_longer_lists_it(gr_gpu):
    """kill() returns with the actor's process gone from NVML's list and its GPU free."""
    actor = CudaActor.remote()
    pid = greenroom.get(actor.pid.remote())
    assert pid in _nvml_gpu_pids()
    greenroom.kill(actor)
    assert pid not in _nvml_gpu_pids()
    assert greenroom.available_resources()["GPU"] == greenroom.cluster_resources()["GPU"]
