"""GPU memory left behind (runtime/node_gpus.py) against a fake NVML: no GPU, no processes.

The real NVML is exercised in tests/gpu on a machine with an NVIDIA GPU.
"""

from __future__ import annotations

import asyncio
import logging

import pytest

from greenroom.runtime import limits, node_gpus
from greenroom.runtime.node_gpus import GpuMemory
from greenroom.scheduler.pool import Allocation
from greenroom.scheduler.resources import UNIT, ResourceSet

pytestmark = pytest.mark.timeout(10)


class FakeNvml:
    """Lists ``pid`` on device 1 with 512 MiB for its first ``listed`` questions (forever if None)."""

    available = True

    def __init__(self, pid: int, listed: int | None) -> None:
        self.pid, self.listed, self.asked = pid, listed, 0

    def held_by(self, pid):
        self.asked += 1
        still = self.listed is None or self.asked <= self.listed
        return {1: 512 << 20} if pid == self.pid and still else {}

    def total_mb(self, gpu_id):
        return 80_000

    def close(self):
        self.available = False


class FakeWorker:
    def __init__(self, pid: int, worker_id: int = 1) -> None:
        self.pid, self.id = pid, worker_id
        self.exit_code = asyncio.get_running_loop().create_future()
        self.killed = False

    def kill(self):
        self.killed = True
        self.exit_code.set_result(-9)


def gpus(nvml, released):
    return GpuMemory(None, has_gpus=True, enforce=limits.ALL, own=asyncio.ensure_future,
                     release=released.append, nvml=lambda: nvml)  # fmt: skip


async def test_gpus_are_released_once_the_process_exited_and_nvml_stopped_listing_it():
    """Released only after the exit, then after NVML's last listing; the retry is queued after."""
    released, order = [], []
    nvml = FakeNvml(pid=7, listed=3)
    worker = FakeWorker(pid=7)
    freeing = gpus(nvml, released).release_after_exit(worker, "task-key", "task 'f'", lambda: order.append("retry"))
    await asyncio.sleep(0)
    assert released == [] and nvml.asked == 0  # the process has not exited yet
    worker.exit_code.set_result(0)
    await asyncio.wait_for(freeing, 5)
    assert released == ["task-key"] and order == ["retry"] and nvml.asked == 4


async def test_a_process_nvml_keeps_listing_is_reported_and_its_gpu_granted_anyway(monkeypatch, caplog):
    """After GONE_WAIT_S a warning names the task, the pid, the bytes and the GPU; the GPUs go back."""
    monkeypatch.setattr(node_gpus, "GONE_WAIT_S", 0.1)
    released = []
    worker = FakeWorker(pid=7)
    worker.exit_code.set_result(0)
    with caplog.at_level(logging.WARNING, logger="greenroom"):
        await asyncio.wait_for(gpus(FakeNvml(7, None), released).release_after_exit(worker, "k", "task 'f'"), 5)
    assert released == ["k"]
    assert "task 'f' ended, but NVML still lists its process (pid=7) holds 512.0 MiB on GPU 1" in caplog.text


async def test_a_worker_that_does_not_exit_is_killed(monkeypatch):
    monkeypatch.setattr(node_gpus, "EXIT_WAIT_S", 0.05)
    released = []
    worker = FakeWorker(pid=7)
    await asyncio.wait_for(gpus(FakeNvml(7, 0), released).release_after_exit(worker, "k", "task 'f'"), 5)
    assert worker.killed and released == ["k"]


async def test_memory_a_long_lived_worker_keeps_is_reported_once(caplog):
    """A GPU task ending on a reused worker: one warning per worker, naming what holds how much."""
    memory = gpus(FakeNvml(7, None), [])
    worker = FakeWorker(pid=7)
    with caplog.at_level(logging.WARNING, logger="greenroom"):
        memory.after_task(worker, "task 'train'")
        memory.after_task(worker, "task 'train'")
    assert caplog.text.count("task 'train' ended, and its worker (pid=7) still holds 512.0 MiB on GPU 1") == 1
    assert "max_calls=1" in caplog.text


async def test_without_nvml_only_the_exit_is_waited_for():
    """NVML absent (no GPU here): GpuMemory asks nothing and releases on exit."""

    class NoNvml:
        available = False

        def close(self):
            pass

    released = []
    worker = FakeWorker(pid=7)
    worker.exit_code.set_result(0)
    await asyncio.wait_for(gpus(NoNvml(), released).release_after_exit(worker, "k", "task 'f'"), 5)
    assert released == ["k"]


async def test_a_fractional_workers_environment_carries_tensorflows_limit_from_nvml():
    """With NVML the device's size is known: a quarter GPU gets a quarter of it as TensorFlow's limit."""
    memory = gpus(FakeNvml(7, 0), [])
    quarter = Allocation(ResourceSet.from_units({"GPU": UNIT // 4}), ((0, UNIT // 4),))
    key, env = memory.worker_for(quarter, [0], limits.ALL)
    assert env[limits.GPU_LIMIT_MB_VAR] == "20000" and env["CUDA_VISIBLE_DEVICES"] == "0"
    assert memory.worker_for(quarter, [0], limits.ALL & ~limits.GPU_MEMORY) == ("0", {"CUDA_VISIBLE_DEVICES": "0"})
    assert key != "0"
