"""Checks that need a real NVIDIA GPU and PyTorch: NVML detection, CUDA isolation, wait_for_gpu.

Everywhere else (CI included) GPU scheduling is tested with pretend GPUs,
``init(num_gpus=4)``; this module is skipped there. On a GPU machine run
``python -m pytest tests/gpu``.
"""

from __future__ import annotations

import os
import time

import pytest
from helpers import run_python, wait_for

import greenroom
from greenroom import tune
from greenroom._config import detect_gpus

pytestmark = [
    pytest.mark.skipif(detect_gpus() == 0, reason="needs an NVIDIA GPU and its driver (NVML)"),
    pytest.mark.timeout(180),
]
torch = pytest.importorskip("torch")

DEADLINE_S = 60.0


def _nvml_used_fraction(index: int = 0) -> float:
    import pynvml

    pynvml.nvmlInit()
    try:
        info = pynvml.nvmlDeviceGetMemoryInfo(pynvml.nvmlDeviceGetHandleByIndex(index))
        return info.used / info.total
    finally:
        pynvml.nvmlShutdown()


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
    """greenroom with the machine's real GPUs, detected through NVML."""
    greenroom.init(num_cpus=4)
    yield greenroom
    greenroom.shutdown()


def cuda_view() -> dict:
    """What a worker sees of CUDA: its ids, its env, and what PyTorch finds."""
    import torch

    view = {
        "gpu_ids": greenroom.get_gpu_ids(),
        "env": os.environ.get("CUDA_VISIBLE_DEVICES"),
        "available": torch.cuda.is_available(),
        "count": torch.cuda.device_count(),
    }
    if view["available"]:
        x = torch.arange(1000, dtype=torch.float64, device="cuda")
        view["sum"] = float(x.sum().item())
        view["device"] = str(x.device)
    return view



def test_the_node_names_its_gpu_model_and_accelerator_type_runs_there(gr_gpu):
    """NVML's name of the GPU becomes the node resource accelerator_type:<model> (1), and a task
    asking for that model runs."""
    from greenroom._config import detect_gpu_name
    from greenroom.runtime.accelerators import accelerator_type_of

    model = accelerator_type_of(detect_gpu_name())
    assert model and model.replace("-", " ").split()[-1] in detect_gpu_name()
    assert greenroom.cluster_resources()[f"accelerator_type:{model}"] == 1.0

    @greenroom.remote(num_gpus=1, accelerator_type=model)
    def ids():
        return greenroom.get_gpu_ids()

    assert len(greenroom.get(ids.remote(), timeout=DEADLINE_S)) == 1

def test_init_detects_the_machines_gpus(gr_gpu):
    """init() without num_gpus reports what NVML and PyTorch count."""
    assert greenroom.cluster_resources()["GPU"] == torch.cuda.device_count() == detect_gpus()


def test_gpu_task_runs_cuda_on_its_own_device(gr_gpu):
    """A num_gpus=1 task sees exactly one device, id 0, and computes on it."""
    view = greenroom.get(greenroom.remote(num_gpus=1)(cuda_view).remote(), timeout=DEADLINE_S)
    assert view["gpu_ids"] == [0] and view["env"] == "0"
    assert view["available"] and view["count"] == 1
    assert view["sum"] == sum(range(1000)) and view["device"] == "cuda:0"


def test_cpu_task_cannot_see_cuda(gr_gpu):
    """A task that asked for no GPU sees CUDA_VISIBLE_DEVICES="" and PyTorch finds no device."""
    view = greenroom.get(greenroom.remote(num_gpus=0)(cuda_view).remote(), timeout=DEADLINE_S)
    assert view["gpu_ids"] == [] and view["env"] == ""
    assert not view["available"] and view["count"] == 0


def test_workers_are_clean_when_the_driver_already_uses_cuda(gr_gpu):
    """Workers come from a fresh zygote, not a fork of the driver, so a driver's CUDA context is no harm."""
    assert float(torch.ones(4, device="cuda").sum().item()) == 4.0
    view = greenroom.get(greenroom.remote(num_gpus=1)(cuda_view).remote(), timeout=DEADLINE_S)
    assert view["available"] and view["sum"] == sum(range(1000))


@greenroom.remote(num_gpus=1)
class GpuHolder:
    def __init__(self, mib: int):
        import torch

        self.block = torch.empty(mib << 20, dtype=torch.uint8, device="cuda")

    def where(self):
        return os.getpid(), greenroom.get_gpu_ids(), str(self.block.device)


def test_actor_holds_its_gpu_and_frees_it_when_killed(gr_gpu):
    """An actor's GPU memory lives in its own process and is given back by kill()."""
    holder = GpuHolder.remote(1024)
    pid, ids, device = greenroom.get(holder.where.remote(), timeout=DEADLINE_S)
    assert ids == [0] and device == "cuda:0"
    nvml_poll = {"timeout": DEADLINE_S, "interval": 0.05}  # NVML has no event to wait on
    wait_for(lambda: pid in _nvml_gpu_pids(), f"NVML to list actor pid {pid} on GPU 0", **nvml_poll)
    greenroom.kill(holder)
    wait_for(lambda: pid not in _nvml_gpu_pids(), f"actor pid {pid} to leave GPU 0", **nvml_poll)


def test_wait_for_gpu_waits_for_the_previous_holder(gr_gpu):
    """wait_for_gpu times out while another process holds memory and returns once it is freed."""
    baseline = _nvml_used_fraction()
    holder = GpuHolder.options(num_gpus=0.5).remote(int(0.25 * torch.cuda.get_device_properties(0).total_memory) >> 20)
    greenroom.get(holder.where.remote(), timeout=DEADLINE_S)
    target = baseline + 0.05

    @greenroom.remote(num_gpus=0.5)
    def wait(retry: int, delay_s: float):
        return tune.utils.wait_for_gpu(target_util=target, retry=retry, delay_s=delay_s)

    with pytest.raises(greenroom.exceptions.RayTaskError, match="still .* used"):
        greenroom.get(wait.remote(2, 0.05), timeout=DEADLINE_S)
    waiting = wait.remote(int(DEADLINE_S / 0.05), 0.05)
    greenroom.kill(holder)
    assert greenroom.get(waiting, timeout=DEADLINE_S) is True


def _trial(config):
    import torch

    start = time.monotonic()
    x = torch.randn(2048, 2048, device="cuda")
    for _ in range(20):
        x = torch.tanh(x @ x)
    torch.cuda.synchronize()
    tune.report(
        {
            "start": start,
            "end": time.monotonic(),
            "env": os.environ["CUDA_VISIBLE_DEVICES"],
            "count": torch.cuda.device_count(),
            "finite": bool(torch.isfinite(x).all().item()),
        }
    )


def test_tune_gpu_trials_run_one_at_a_time_on_the_gpu(gr_gpu, tmp_path):
    """With one GPU and resources_per_trial={"gpu": 1}, trials compute on it one after another."""
    analysis = tune.run(
        _trial,
        num_samples=3,
        resources_per_trial={"cpu": 1, "gpu": 1},
        storage_path=str(tmp_path),
        verbose=0,
    )
    results = sorted(analysis.results_df.to_dict("records"), key=lambda r: r["start"])
    assert len(results) == 3
    assert all(r["env"] == "0" and r["count"] == 1 and r["finite"] for r in results)
    for earlier, later in zip(results, results[1:]):
        assert earlier["end"] <= later["start"], "two one-GPU trials overlapped on a single GPU"


def test_driver_cuda_visible_devices_limits_the_gpus():
    """A driver started with CUDA_VISIBLE_DEVICES="" offers no GPU, as Ray does."""
    code = "import greenroom; greenroom.init(num_cpus=1); print(greenroom.cluster_resources().get('GPU', 0)); greenroom.shutdown()"
    out = run_python(code, timeout=DEADLINE_S, CUDA_VISIBLE_DEVICES="")
    assert out.returncode == 0, out.stderr
    assert float(out.stdout.strip().splitlines()[-1]) == 0
