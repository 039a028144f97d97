"""What greenroom enforces on a task or actor, as pure functions: no I/O.

Ray counts CPUs, memory and GPU shares; greenroom also enforces them where the
operating system and the frameworks let it (see the README's "Resources: what
greenroom enforces"). Each enforcement is one *kind*, a bit of an int mask:

    threads       native thread pools sized to max(1, floor(num_cpus))
    cpu_affinity  whole CPUs pinned to distinct cores (opt-in: init(cpu_affinity=True))
    memory        memory=B watched (RSS); the node-wide guard picks among these workers
    gpu_memory    fractional GPUs capped in the frameworks; GPU memory left behind checked

A task's or actor's ``_enforce`` option and ``init(_enforce=...)`` each give a
mask; what is enforced on a call is the AND of both (``effective``). The mask
travels in the wire messages (``Exec.enforce``, ``ActorInit.enforce``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

THREADS = 1
CPU_AFFINITY = 2
MEMORY = 4
GPU_MEMORY = 8
ALL = THREADS | CPU_AFFINITY | MEMORY | GPU_MEMORY

KINDS = {"threads": THREADS, "cpu_affinity": CPU_AFFINITY, "memory": MEMORY, "gpu_memory": GPU_MEMORY}

# Environment variables that size native thread pools when a library loads (the ones Ray sets, and kin).
THREAD_ENV_VARS = (
    "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "BLIS_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS", "NUMEXPR_NUM_THREADS",
)  # fmt: skip

# What each framework reads to cap a fractional GPU's memory (set in a worker's environment at fork).
JAX_MEM_FRACTION = "XLA_PYTHON_CLIENT_MEM_FRACTION"
TF_ALLOW_GROWTH = "TF_FORCE_GPU_ALLOW_GROWTH"
# greenroom's own, read in the worker by the torch and TensorFlow import hooks (worker_limits.py).
GPU_FRACTION_VAR = "GREENROOM_GPU_MEMORY_FRACTION"
GPU_LIMIT_MB_VAR = "GREENROOM_GPU_MEMORY_LIMIT_MB"


# Ray's memory monitor defaults: kill when the node's memory is over 95% used. greenroom looks
# every 100 ms (Ray: 250 ms), which also bounds how far a task may overshoot its memory= limit.
MEMORY_USAGE_THRESHOLD = 0.95
MEMORY_REFRESH_MS = 100


@dataclass(frozen=True, slots=True)
class NodeEnforcement:
    """What a node enforces (``init()``'s arguments): the mask every call's own is ANDed with,
    and the memory monitor's threshold and period (period 0: no memory monitor)."""

    mask: int = ALL & ~CPU_AFFINITY
    memory_usage_threshold: float = MEMORY_USAGE_THRESHOLD
    memory_refresh_ms: int = MEMORY_REFRESH_MS

    @property
    def effective_mask(self) -> int:
        return self.mask if self.memory_refresh_ms > 0 else self.mask & ~MEMORY


def parse_enforce(value: Any, what: str, *, allow_affinity: bool = True) -> int:
    """The mask an ``_enforce`` option asks for.

    Args:
        value: True (every kind), False (none), or a dict of kind -> bool; kinds
            left out of the dict stay on.
        what: how messages name the option ("_enforce", "init(_enforce=...)").
        allow_affinity: False for init(), where ``cpu_affinity=`` is its own argument.

    Raises:
        TypeError: not a bool or a dict of bools.
        ValueError: an unknown kind.
    """
    if value is True:
        return ALL
    if value is False:
        return 0
    if not isinstance(value, Mapping):
        raise TypeError(
            f"{what}={value!r}: expected True, False or a dict such as {{'memory': False}} "
            f"with kinds {sorted(KINDS)}"
        )
    mask = ALL
    for kind, on in value.items():
        if kind not in KINDS:
            raise ValueError(f"{what}={value!r}: unknown kind {kind!r}; the kinds are {sorted(KINDS)}")
        if kind == "cpu_affinity" and not allow_affinity:
            raise ValueError(
                f"{what}={value!r}: turn CPU pinning on or off with init(cpu_affinity=True/False)"
            )
        if not isinstance(on, bool):
            raise TypeError(f"{what}={value!r}: {kind!r} must be True or False, got {on!r}")
        if not on:
            mask &= ~KINDS[kind]
    return mask


def describe(mask: int) -> dict[str, bool]:
    """{kind: on} for a mask, for messages and the runtime context."""
    return {kind: bool(mask & bit) for kind, bit in KINDS.items()}


def thread_count(cpus: float) -> int:
    """Native threads for a grant of ``cpus`` CPUs: max(1, floor(cpus)), as Ray sets OMP_NUM_THREADS
    (a 0-CPU or 0.5-CPU task gets 1 thread)."""
    return max(1, math.floor(cpus + 1e-9))


def is_fractional_gpu(gpus: float) -> bool:
    return 0 < gpus < 1


def gpu_memory_env(fraction: float, total_mb: int | None, driver_env: Mapping[str, str]) -> dict[str, str]:
    """Environment a worker holding ``fraction`` (< 1) of one GPU starts with: each framework's own cap.

    JAX preallocates ``XLA_PYTHON_CLIENT_MEM_FRACTION`` of the device; TensorFlow grows on demand
    (``TF_FORCE_GPU_ALLOW_GROWTH``) up to the limit its import hook sets from ``total_mb``; torch's
    import hook calls ``set_per_process_memory_fraction``. A variable the user set in the driver's
    environment is left as it is.
    """
    env = {GPU_FRACTION_VAR: f"{fraction:.4f}"}
    if JAX_MEM_FRACTION not in driver_env:
        env[JAX_MEM_FRACTION] = f"{fraction:.4f}"
    if TF_ALLOW_GROWTH not in driver_env:
        env[TF_ALLOW_GROWTH] = "true"
    if total_mb:
        env[GPU_LIMIT_MB_VAR] = str(int(total_mb * fraction))
    return env


def worker_key(cuda: str, gpu_fraction: float | None) -> str:
    """Which idle workers a grant may reuse: same CUDA_VISIBLE_DEVICES and, for a fractional GPU whose
    memory is capped, the same cap (the caps are environment, set once at fork)."""
    return cuda if gpu_fraction is None else f"{cuda}@{gpu_fraction:.4f}"
