"""Inside a TorchTrainer loop: ``prepare_model``, ``prepare_data_loader``, ``get_device``, as Ray's.

A worker sees only its own GPUs (``CUDA_VISIBLE_DEVICES``), so its device is
``cuda:0`` when it holds a GPU and torch finds CUDA, else the CPU. torch is
imported when these are called, so ``greenroom.train.torch`` imports without it.
"""

from __future__ import annotations

import os
import random
from typing import Any

from greenroom.train.context import get_context


def get_devices() -> list[Any]:
    """This worker's torch devices: one ``cuda:i`` per GPU it holds, or ``[cpu]``."""
    import torch

    import greenroom as ray

    gpus = ray.get_gpu_ids()
    if gpus and torch.cuda.is_available():
        count = min(len(gpus), torch.cuda.device_count())
        return [torch.device(f"cuda:{i}") for i in range(count)]
    return [torch.device("cpu")]


def get_device() -> Any:
    """This worker's (first) torch device."""
    return get_devices()[0]


def prepare_model(model: Any, move_to_device: bool | Any = True, parallel_strategy: str | None = "ddp",
                  parallel_strategy_kwargs: dict | None = None) -> Any:  # fmt: skip
    """Move ``model`` to this worker's device and, with more than one worker, wrap it in
    ``DistributedDataParallel`` (``parallel_strategy=None`` leaves it unwrapped)."""
    import torch
    import torch.distributed as dist
    from torch.nn.parallel import DistributedDataParallel

    if parallel_strategy not in ("ddp", None):
        raise ValueError(
            f"prepare_model(parallel_strategy={parallel_strategy!r}): greenroom supports 'ddp' or None"
        )
    device = get_device() if move_to_device is True else move_to_device
    if device is not False and device is not None:
        model = model.to(device)
    if parallel_strategy is None or get_context().get_world_size() == 1:
        return model
    if not (dist.is_available() and dist.is_initialized()):
        raise RuntimeError(
            "prepare_model() wraps the model in DistributedDataParallel, which needs the process group "
            "that greenroom.train.torch.TorchTrainer forms; run the loop with TorchTrainer"
        )
    kwargs = dict(parallel_strategy_kwargs or {})
    if isinstance(device, torch.device) and device.type == "cuda":
        kwargs.setdefault("device_ids", [device])
        kwargs.setdefault("output_device", device)
    return DistributedDataParallel(model, **kwargs)


def prepare_data_loader(data_loader: Any, add_dist_sampler: bool = True, move_to_device: bool = True,
                        auto_transfer: bool = True) -> Any:  # fmt: skip
    """Give each worker its part of ``data_loader``'s dataset (a ``DistributedSampler``, which
    shuffles if the loader did: call ``loader.sampler.set_epoch(epoch)`` each epoch), and
    move its batches to this worker's device."""
    from torch.utils.data import DataLoader, DistributedSampler, IterableDataset, RandomSampler

    ctx = get_context()
    world_size = ctx.get_world_size()
    if (
        add_dist_sampler and world_size > 1
        and not isinstance(data_loader.sampler, DistributedSampler)
        and not isinstance(data_loader.dataset, IterableDataset)
    ):  # fmt: skip
        if data_loader.batch_size is None:
            raise ValueError(
                "prepare_data_loader() cannot add a DistributedSampler to a DataLoader built with a "
                "batch_sampler; shard the batches yourself and pass add_dist_sampler=False"
            )
        sampler = DistributedSampler(
            data_loader.dataset, num_replicas=world_size, rank=ctx.get_world_rank(),
            shuffle=isinstance(data_loader.sampler, RandomSampler),
        )  # fmt: skip
        extra = {}
        if data_loader.num_workers > 0:
            extra = {
                "prefetch_factor": data_loader.prefetch_factor,
                "persistent_workers": data_loader.persistent_workers,
            }
        data_loader = DataLoader(
            data_loader.dataset, batch_size=data_loader.batch_size, sampler=sampler,
            num_workers=data_loader.num_workers, collate_fn=data_loader.collate_fn,
            pin_memory=data_loader.pin_memory, drop_last=data_loader.drop_last, timeout=data_loader.timeout,
            worker_init_fn=data_loader.worker_init_fn, generator=data_loader.generator, **extra,
        )  # fmt: skip
    device = get_device()
    if move_to_device and device.type != "cpu":
        return _DeviceLoader(data_loader, device)
    return data_loader


class _DeviceLoader:
    """A DataLoader whose batches arrive on ``device``; everything else is the loader's."""

    def __init__(self, loader: Any, device: Any) -> None:
        self._loader = loader
        self._device = device

    def __iter__(self) -> Any:
        for batch in self._loader:
            yield _to(batch, self._device)

    def __len__(self) -> int:
        return len(self._loader)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._loader, name)


def _to(batch: Any, device: Any) -> Any:
    if hasattr(batch, "to"):
        return batch.to(device, non_blocking=True)
    if isinstance(batch, (list, tuple)):
        return type(batch)(_to(b, device) for b in batch)
    if isinstance(batch, dict):
        return {k: _to(v, device) for k, v in batch.items()}
    return batch


def enable_reproducibility(seed: int = 0) -> None:
    """Seed torch, random and numpy, and make torch pick deterministic algorithms (call it first)."""
    import torch

    torch.manual_seed(seed)
    random.seed(seed)
    try:
        import numpy as np

        np.random.seed(seed)
    except ImportError:
        pass
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    torch.use_deterministic_algorithms(True)
    torch.backends.cudnn.benchmark = False
