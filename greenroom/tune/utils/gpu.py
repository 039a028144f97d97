"""``wait_for_gpu``: block until a GPU's memory use drops, e.g. after the previous trial."""

from __future__ import annotations

import os
import time
import warnings


def _nvml():
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            import pynvml

        pynvml.nvmlInit()
        return pynvml
    except Exception as e:
        raise RuntimeError(
            f"tune.utils.wait_for_gpu needs NVIDIA's NVML (a GPU and its driver); it is not available "
            f"here ({type(e).__name__}: {e})"
        ) from e


def wait_for_gpu(
    gpu_id: int | str | None = None,
    target_util: float = 0.01,
    retry: int = 20,
    delay_s: float = 5,
    gpu_memory_limit: float | None = None,
) -> bool:
    """Wait until the GPU's used memory fraction is at most ``target_util``.

    ``gpu_id`` defaults to the first id in this trial's ``CUDA_VISIBLE_DEVICES``
    (an index or a GPU UUID). Returns True once it is; raises RuntimeError after
    ``retry`` tries ``delay_s`` apart, or when NVML is absent.
    """
    if gpu_memory_limit is not None:
        target_util = gpu_memory_limit
    if gpu_id is None:
        visible = [v for v in os.environ.get("CUDA_VISIBLE_DEVICES", "").split(",") if v.strip()]
        if not visible:
            raise RuntimeError("wait_for_gpu(): this trial has no GPU (CUDA_VISIBLE_DEVICES is empty); ask for one with resources_per_trial={'gpu': 1}")
        gpu_id = visible[0]
    nvml = _nvml()
    try:
        if isinstance(gpu_id, str) and not gpu_id.isdigit():
            handle = nvml.nvmlDeviceGetHandleByUUID(gpu_id)
        else:
            handle = nvml.nvmlDeviceGetHandleByIndex(int(gpu_id))
        for _ in range(retry):
            info = nvml.nvmlDeviceGetMemoryInfo(handle)
            used = info.used / info.total
            if used <= target_util:
                return True
            time.sleep(delay_s)  # polling NVML is the only way to see another process's memory
        raise RuntimeError(f"GPU {gpu_id} still {used:.1%} used after {retry} tries {delay_s} s apart (target {target_util:.1%})")
    finally:
        nvml.nvmlShutdown()
