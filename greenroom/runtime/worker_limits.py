"""Enforcement inside a worker process: thread pools, CPU pinning, GPU memory caps.

Before each task (and once for an actor, at its construction) the worker calls
``WorkerLimits.apply`` with the task's enforcement mask and its grant. Workers
are reused, so it re-applies only when what it would apply differs from what
the worker already has: the hot path is one tuple comparison.

- Threads: the environment variables Ray sets (``OMP_NUM_THREADS`` and kin)
  size pools of libraries not loaded yet; threadpoolctl resizes the pools of
  libraries already loaded (the zygote, or an earlier task, may have imported
  numpy); ``torch.set_num_threads`` when torch is imported. A variable the user
  set in the driver's environment wins: with ``OMP_NUM_THREADS`` set, greenroom
  sizes nothing; another one set (``MKL_NUM_THREADS``...) leaves that library alone.
- Pinning: ``sched_setaffinity`` on every thread of the process (the call
  pins one thread; pools started earlier keep their own mask otherwise).
- GPU memory: a worker forked for a fractional GPU has the frameworks' caps in
  its environment (limits.gpu_memory_env); here, import hooks set torch's and
  TensorFlow's, which only have a call for it.
"""

from __future__ import annotations

import importlib.abc
import importlib.util
import os
import sys
import warnings
from typing import Any

from greenroom.runtime.limits import (
    CPU_AFFINITY, GPU_FRACTION_VAR, GPU_LIMIT_MB_VAR, GPU_MEMORY, JAX_MEM_FRACTION, MEMORY, TF_ALLOW_GROWTH,
    THREAD_ENV_VARS, THREADS, thread_count,
)  # fmt: skip

# Which loaded library (threadpoolctl's internal_api) a user-set variable keeps greenroom away from.
_USER_VAR_API = {"OPENBLAS_NUM_THREADS": "openblas", "MKL_NUM_THREADS": "mkl", "BLIS_NUM_THREADS": "blis"}


def loaded_thread_pools() -> bool:
    """True if this process has loaded a library with a native thread pool (threadpoolctl's scan, ~1 ms)."""
    from threadpoolctl import ThreadpoolController

    return bool(ThreadpoolController().info())


class WorkerLimits:
    """What this worker process has applied; see the module docstring."""

    def __init__(self, pools_loaded: bool = True) -> None:
        # At fork the environment is the driver's: what is set now, the user set.
        self.user_vars = frozenset(v for v in THREAD_ENV_VARS if v in os.environ)
        try:
            self.all_cores = frozenset(os.sched_getaffinity(0))
        except AttributeError:  # pragma: no cover - not Linux
            self.all_cores = frozenset()
        self._key: Any = None
        self._scan = pools_loaded  # loaded libraries may hold pools to resize
        self.threads: int | None = None  # the pool size applied, None when left alone
        self.cores: list[int] | None = None  # the cores pinned to, None when not pinned
        self.gpu_caps: dict[str, str] = {}  # framework -> the cap set for it
        self._install_gpu_hooks()

    # -- per task ----------------------------------------------------------------------
    def apply(self, enforce: int, assigned: list) -> None:
        """Size thread pools and pin cores for a call with mask ``enforce`` and grant ``assigned``."""
        cores = assigned[2] if len(assigned) > 2 else None
        key = (enforce & (THREADS | CPU_AFFINITY), assigned[0].get("CPU"), cores)
        if key == self._key:
            return
        self._key = key
        threads = None
        if enforce & THREADS and "OMP_NUM_THREADS" not in self.user_vars:
            threads = thread_count(assigned[0].get("CPU", 0.0))
        cores = list(key[2]) if enforce & CPU_AFFINITY and key[2] else None
        if threads != self.threads:
            self._size_pools(threads)
        if cores != self.cores:
            self._pin(cores)
        self._scan = True  # the call about to run may load anything

    def _size_pools(self, threads: int | None) -> None:
        count = threads if threads is not None else max(1, len(self.all_cores))
        for var in THREAD_ENV_VARS:
            if var in self.user_vars:
                continue
            if threads is None:
                os.environ.pop(var, None)
            else:
                os.environ[var] = str(threads)
        if self._scan:
            from threadpoolctl import ThreadpoolController

            skip = {api for var, api in _USER_VAR_API.items() if var in self.user_vars}
            for pool in ThreadpoolController().lib_controllers:
                if pool.internal_api not in skip:
                    pool.set_num_threads(count)
        torch = sys.modules.get("torch")
        if torch is not None and hasattr(torch, "set_num_threads"):
            torch.set_num_threads(count)
        self.threads = threads

    def _pin(self, cores: list[int] | None) -> None:
        mask = set(cores) if cores else set(self.all_cores)
        if not mask:
            return
        try:
            tids = [int(t) for t in os.listdir("/proc/self/task")]
        except OSError:  # pragma: no cover - no /proc
            tids = [0]
        for tid in tids:
            try:
                os.sched_setaffinity(tid, mask)
            except OSError:  # a thread that just ended, or a core the machine took away
                pass
        self.cores = cores

    def describe(self, enforce: int, assigned: list) -> dict[str, Any]:
        """The limits on the current call, for ``get_runtime_context().get_resource_limits()``."""
        memory = assigned[0].get("memory")
        return {
            "threads": self.threads if enforce & THREADS else None,
            "cpu_ids": list(self.cores) if self.cores and enforce & CPU_AFFINITY else None,
            "memory": int(memory) if memory and enforce & MEMORY else None,
            "gpu_memory": dict(self.gpu_caps) if self.gpu_caps and enforce & GPU_MEMORY else None,
        }

    # -- GPU memory caps (set once: the environment of a fractional-GPU worker) ------------
    def _install_gpu_hooks(self) -> None:
        fraction = os.environ.get(GPU_FRACTION_VAR)
        if not fraction:
            return
        share = float(fraction)
        if JAX_MEM_FRACTION in os.environ:
            self.gpu_caps["jax"] = f"{JAX_MEM_FRACTION}={os.environ[JAX_MEM_FRACTION]}"
        limit_mb = int(os.environ.get(GPU_LIMIT_MB_VAR) or 0)
        hooks = {"torch": lambda torch: self._cap_torch(torch, share),
                 "tensorflow": lambda tf: self._cap_tensorflow(tf, limit_mb)}  # fmt: skip
        for name in list(hooks):
            if name in sys.modules:
                _run_hook(name, hooks.pop(name), sys.modules[name])
        if hooks:
            sys.meta_path.insert(0, _AfterImport(hooks))

    def _cap_torch(self, torch: Any, fraction: float) -> None:
        cuda = torch.cuda

        def cap() -> None:
            cuda.set_per_process_memory_fraction(fraction, 0)

        # Setting the fraction initialises CUDA; defer it to CUDA's own first use.
        if cuda.is_initialized():
            cap()
        elif hasattr(cuda, "_lazy_call"):
            cuda._lazy_call(cap)
        else:  # pragma: no cover - a torch without lazy CUDA init
            return
        self.gpu_caps["torch"] = f"torch.cuda.set_per_process_memory_fraction({fraction:.4f}) at CUDA init"

    def _cap_tensorflow(self, tf: Any, limit_mb: int) -> None:
        if TF_ALLOW_GROWTH in os.environ:
            self.gpu_caps["tensorflow"] = f"{TF_ALLOW_GROWTH}={os.environ[TF_ALLOW_GROWTH]}"
        if not limit_mb:  # the device's size is unknown without NVML: growth only
            return
        gpus = tf.config.list_physical_devices("GPU")
        if gpus:
            config = tf.config.LogicalDeviceConfiguration(memory_limit=limit_mb)
            tf.config.set_logical_device_configuration(gpus[0], [config])
            self.gpu_caps["tensorflow"] += f", memory_limit={limit_mb} MB"


def _run_hook(name: str, hook: Any, module: Any) -> None:
    try:
        hook(module)
    except Exception as e:  # a framework version we don't know: say so, never break the import
        warnings.warn(f"greenroom could not cap {name}'s GPU memory: {type(e).__name__}: {e}", stacklevel=2)


class _AfterImport(importlib.abc.MetaPathFinder):
    """Runs a hook right after a top-level module (torch, tensorflow) is first imported."""

    def __init__(self, hooks: dict[str, Any]) -> None:
        self.hooks = hooks

    def find_spec(self, name: str, path: Any, target: Any = None) -> Any:
        hook = self.hooks.pop(name, None)  # once; and find_spec below won't come back here for it
        if hook is None:
            return None
        spec = importlib.util.find_spec(name)
        if spec is None or spec.loader is None or not hasattr(spec.loader, "exec_module"):
            return spec
        exec_module = spec.loader.exec_module

        def exec_then_hook(module: Any) -> None:
            exec_module(module)
            _run_hook(name, hook, module)

        spec.loader.exec_module = exec_then_hook  # this spec's own loader instance
        return spec
