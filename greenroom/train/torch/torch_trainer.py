"""``TorchTrainer``: a DataParallelTrainer whose workers form a ``torch.distributed`` process group.

Before any loop starts, rank 0 picks a free port on 127.0.0.1 and every rank
joins the group with torchrun's variables set (``MASTER_ADDR``, ``MASTER_PORT``,
``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``, ``LOCAL_WORLD_SIZE``, ``NODE_RANK``):
gloo on CPUs, NCCL with GPUs (each worker on its own GPU, ``cuda:0`` in its
``CUDA_VISIBLE_DEVICES``). After every loop returned, every rank leaves the
group; a failed attempt's workers are killed, which ends theirs.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from greenroom.train.backend import Backend, BackendConfig
from greenroom.train.config import ScalingConfig
from greenroom.train.data_parallel_trainer import DataParallelTrainer
from greenroom.tune.checkpoint import Checkpoint
from greenroom.tune.tuner import RunConfig

_SETUP = "greenroom.train.torch._setup"


@dataclass
class TorchConfig(BackendConfig):
    """How TorchTrainer forms its process group.

    Args:
        backend: "gloo" or "nccl"; default NCCL when the workers have GPUs, else gloo.
        init_method: "env" (``env://``, torchrun's variables) or "tcp" (``tcp://addr:port``).
        timeout_s: how long collectives, and joining the group, may wait.
    """

    backend: str | None = None
    init_method: str = "env"
    timeout_s: int = 1800

    def __post_init__(self) -> None:
        if self.backend not in (None, "gloo", "nccl"):
            raise ValueError(f"TorchConfig(backend={self.backend!r}): expected 'gloo', 'nccl' or None")
        if self.init_method not in ("env", "tcp"):
            raise ValueError(f"TorchConfig(init_method={self.init_method!r}): expected 'env' or 'tcp'")

    @property
    def backend_cls(self) -> type[Backend]:
        return _TorchBackend


class _TorchBackend(Backend):
    preload = (_SETUP,)

    def on_start(self, worker_group: Any, backend_config: TorchConfig) -> None:
        from greenroom.train.torch import _setup

        uses_gpu = worker_group.worker_bundle.get("GPU", 0) > 0
        backend = backend_config.backend or ("nccl" if uses_gpu else "gloo")
        port = worker_group.execute_single(0, _setup.free_port)
        n = worker_group.size
        worker_group.execute(_setup.init_process_group, per_rank=lambda rank: (
            backend, backend_config.init_method, "127.0.0.1", port, rank, n, backend_config.timeout_s,
        ))  # fmt: skip

    def on_shutdown(self, worker_group: Any, backend_config: TorchConfig) -> None:
        from greenroom.train.torch import _setup

        worker_group.execute(_setup.destroy_process_group)


class TorchTrainer(DataParallelTrainer):
    """Data-parallel PyTorch training: ``train_loop_per_worker`` runs in every rank of a
    ``torch.distributed`` group (see the module docstring). Needs torch
    (``pip install 'greenroom[torch]'``); the other arguments are DataParallelTrainer's.
    """

    _backend_config_cls = TorchConfig
    _backend_config_key = "torch_config"

    def __init__(
        self,
        train_loop_per_worker: Callable,
        *,
        train_loop_config: dict | None = None,
        torch_config: TorchConfig | None = None,
        scaling_config: ScalingConfig | None = None,
        run_config: RunConfig | None = None,
        datasets: dict | None = None,
        dataset_config: Any = None,
        metadata: dict | None = None,
        resume_from_checkpoint: Checkpoint | None = None,
    ) -> None:
        if importlib.util.find_spec("torch") is None:
            raise ImportError(
                "TorchTrainer needs PyTorch: pip install 'greenroom[torch]' (or pip install torch)"
            )
        super().__init__(
            train_loop_per_worker, train_loop_config=train_loop_config, backend_config=torch_config,
            scaling_config=scaling_config, dataset_config=dataset_config, run_config=run_config,
            datasets=datasets, metadata=metadata, resume_from_checkpoint=resume_from_checkpoint,
        )  # fmt: skip
