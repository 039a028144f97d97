"""What a grant gives its worker, as the worker sees it: resources, GPU ids, CPU cores.

The scheduler counts GPUs and cores by index; the worker is told the names it
can use: the driver's own ``CUDA_VISIBLE_DEVICES`` entries, and this machine's
core numbers. One allocation shape gives one answer, so answers are cached.
"""

from __future__ import annotations

from typing import Any


class Assignments:
    """Turns scheduler allocations into [resources, GPU ids, CPU cores or None] (cached)."""

    def __init__(self, gpu_names: list[str] | None, cores: list[int]) -> None:
        self.gpu_names = gpu_names  # scheduler GPU index -> the id workers see (None: the index)
        self.cores = cores  # scheduler core index -> this machine's core number
        self._cache: dict[Any, list] = {}

    def __call__(self, alloc: Any) -> list:
        cached = self._cache.get(alloc)
        if cached is None:
            resources = alloc.resources.to_dict()
            if alloc.gpus:
                resources["GPU"] = sum(units for _, units in alloc.gpus) / 10_000
            ids: list = alloc.gpu_ids
            if self.gpu_names is not None:
                names = [self.gpu_names[i] if i < len(self.gpu_names) else str(i) for i in ids]
                ids = [int(n) if n.isdigit() else n for n in names]
            cores = sorted({self.cores[i % len(self.cores)] for i in alloc.cpu_ids}) if alloc.cpus else None
            cached = self._cache[alloc] = [resources, ids, cores]
        return cached
