"""GPU memory on the node: fractional GPUs' framework caps, and GPU memory left behind.

A worker's GPU environment is fixed at fork: ``worker_for`` gives the
environment a grant's worker starts with (``CUDA_VISIBLE_DEVICES``, and for a
fractional GPU the frameworks' memory caps) and the key of the idle workers it
may reuse instead. Loop thread only.
"""

from __future__ import annotations

import os
from typing import Any

from greenroom.runtime.limits import GPU_MEMORY, gpu_memory_env, worker_key
from greenroom.scheduler.resources import UNIT


class GpuMemory:
    """Owns the per-grant worker environments (and, with NVML, the checks of memory left behind)."""

    def __init__(self, gpu_names: list[str] | None) -> None:
        self.gpu_names = gpu_names  # scheduler GPU index -> the id workers see
        self._envs: dict[tuple[Any, bool], tuple[str, dict[str, str]]] = {}

    def worker_for(self, alloc: Any, gpu_ids: list, enforce: int) -> tuple[str, dict[str, str]]:
        """(key, environment) of the worker a grant runs on; cached per allocation."""
        capped = bool(enforce & GPU_MEMORY) and len(alloc.gpus) == 1 and alloc.gpus[0][1] < UNIT
        cache_key = (alloc, capped)
        found = self._envs.get(cache_key)
        if found is None:
            cuda = ",".join(map(str, gpu_ids))
            env = {"CUDA_VISIBLE_DEVICES": cuda}
            fraction = alloc.gpus[0][1] / UNIT if capped else None
            if fraction is not None:
                env.update(gpu_memory_env(fraction, self.total_mb(gpu_ids[0]), os.environ))
            found = self._envs[cache_key] = (worker_key(cuda, fraction), env)
        return found

    def total_mb(self, gpu_id: Any) -> int | None:
        """The device's memory in MB (None without NVML)."""
        return None
