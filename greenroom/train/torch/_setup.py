"""In a TorchTrainer worker: form and end the ``torch.distributed`` process group.

Imported once in the node's zygote before the workers fork (the backend's
``preload``), so no worker pays for ``import torch`` itself. Run on the
workers through ``WorkerGroup.execute``; see ``torch_trainer.py``.
"""

from __future__ import annotations

import datetime
import os
import socket

import torch
import torch._dynamo
import torch.distributed as dist
import torch.nn.parallel
import torch.optim
import torch.utils.data

import greenroom as ray


def free_port() -> int:
    """A TCP port on 127.0.0.1 nobody listens on now (rank 0's, for the rendezvous)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def init_process_group(backend: str, init_method: str, addr: str, port: int, rank: int, world_size: int,
                       timeout_s: float) -> dict:  # fmt: skip
    """Set torchrun's environment variables and join the process group; what this rank got."""
    os.environ.update(
        MASTER_ADDR=addr, MASTER_PORT=str(port), RANK=str(rank), WORLD_SIZE=str(world_size),
        LOCAL_RANK=str(rank), LOCAL_WORLD_SIZE=str(world_size), NODE_RANK="0", GROUP_RANK="0",
    )  # fmt: skip
    # One machine: gloo talks over loopback, whatever the hostname resolves to.
    os.environ.setdefault("GLOO_SOCKET_IFNAME", _loopback())
    if backend == "nccl":
        if not torch.cuda.is_available():
            raise RuntimeError(
                f"TorchTrainer uses NCCL (use_gpu=True), but torch {torch.__version__} in worker rank {rank} "
                f"finds no CUDA device (its GPU ids {ray.get_gpu_ids()}, CUDA_VISIBLE_DEVICES="
                f"{os.environ.get('CUDA_VISIBLE_DEVICES')!r}). Install a CUDA build of torch, or train on CPUs "
                "with ScalingConfig(use_gpu=False)."
            )
        torch.cuda.set_device(0)  # the worker sees only its own GPUs: the first is its device
    url = "env://" if init_method == "env" else f"tcp://{addr}:{port}"
    dist.init_process_group(backend, init_method=url, rank=rank, world_size=world_size,
                            timeout=datetime.timedelta(seconds=timeout_s))  # fmt: skip
    return {"backend": dist.get_backend(), "rank": dist.get_rank(), "world_size": dist.get_world_size()}


def destroy_process_group() -> None:
    """Leave the process group, if this rank is in one."""
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def _loopback() -> str:
    try:
        for _, name in socket.if_nameindex():
            if name.startswith("lo"):
                return name
    except OSError:
        pass
    return "lo"
