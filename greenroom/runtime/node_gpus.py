"""GPU memory on the node: fractional GPUs' framework caps, and GPU memory left behind.

A worker's GPU environment is fixed at fork: ``worker_for`` gives the
environment a grant's worker starts with (``CUDA_VISIBLE_DEVICES``, and for a
fractional GPU the frameworks' memory caps) and the key of the idle workers it
may reuse instead.

GPU memory is given back by ending the process. So when a GPU worker ends (a
``max_calls`` task's worker retiring, a crash, a GPU actor killed), its GPUs
are granted again only once its process has exited and, with NVML, once
``nvmlDeviceGetComputeRunningProcesses`` no longer lists it
(``release_after_exit``); a process still listed after ``GONE_WAIT_S`` is
reported (task, GPU, bytes) and its GPUs granted anyway. A GPU task that ends
on a worker that lives on (``max_calls=0``) is checked once per worker: memory
its process still holds is reported. Without NVML (no GPU, no driver) only the
exit is waited for. Loop thread only.
"""

from __future__ import annotations

import asyncio
import logging
import os
import warnings
from collections.abc import Callable
from typing import Any

from greenroom.runtime.limits import GPU_MEMORY, gpu_memory_env, worker_key
from greenroom.runtime.memory_policy import mib
from greenroom.scheduler.resources import UNIT

logger = logging.getLogger("greenroom")

EXIT_WAIT_S = 30.0  # a GPU worker that was asked to exit and has not: killed after this
GONE_WAIT_S = 10.0  # how long NVML may go on listing an ended process before we say so
POLL_S = 0.05  # how often NVML is asked meanwhile (it has no event to wait on)
_CPU_WORKER = ("", {"CUDA_VISIBLE_DEVICES": ""})  # work without GPUs: sees none


class Nvml:
    """The NVML calls greenroom makes (pynvml), or none where NVML is absent (``available`` False)."""

    def __init__(self) -> None:
        self.lib: Any = None
        try:
            with warnings.catch_warnings():  # the pynvml shim warns that nvidia-ml-py is its new name
                warnings.simplefilter("ignore")
                import pynvml

            pynvml.nvmlInit()
            self.lib = pynvml
        except Exception:  # no driver, no GPU, no library: nothing to check
            self.lib = None

    @property
    def available(self) -> bool:
        return self.lib is not None

    def held_by(self, pid: int) -> dict[int, int | None]:
        """{NVML device index: bytes (None: NVML can't say)} where process ``pid`` has a CUDA context."""
        nvml, out = self.lib, {}
        for index in range(nvml.nvmlDeviceGetCount()):
            handle = nvml.nvmlDeviceGetHandleByIndex(index)
            for proc in nvml.nvmlDeviceGetComputeRunningProcesses(handle):
                if proc.pid == pid:
                    used = proc.usedGpuMemory
                    out[index] = used if isinstance(used, int) and used < (1 << 62) else None
        return out

    def total_mb(self, gpu_id: Any) -> int | None:
        """Memory of the device workers see as ``gpu_id`` (an index or a UUID), in MB."""
        nvml = self.lib
        name = str(gpu_id)
        if name.isdigit():
            handle = nvml.nvmlDeviceGetHandleByIndex(int(name))
        else:
            handle = nvml.nvmlDeviceGetHandleByUUID(name)
        return nvml.nvmlDeviceGetMemoryInfo(handle).total // (1 << 20)

    def close(self) -> None:
        if self.lib is not None:
            try:
                self.lib.nvmlShutdown()
            except Exception:  # already shut down
                pass
            self.lib = None


class GpuMemory:
    """Owns the per-grant worker environments, NVML, and the GPUs waiting for a process to end."""

    def __init__(self, gpu_names: list[str] | None, *, has_gpus: bool, enforce: int,
                 own: Callable[[Any], None], release: Callable[[Any], None],
                 nvml: Callable[[], Any] = Nvml) -> None:  # fmt: skip
        self.gpu_names = gpu_names  # scheduler GPU index -> the id workers see
        self.own = own  # run a coroutine owned by the node (NodeLoop.own)
        self.release = release  # give a scheduler key's resources back and schedule
        self.enforced = bool(enforce & GPU_MEMORY)
        self.nvml = nvml() if has_gpus and self.enforced else None
        self._envs: dict[tuple[Any, bool], tuple[str, dict[str, str]]] = {}
        self._checked: set[int] = set()  # ids of long-lived workers already checked for leftovers

    def close(self) -> None:
        if self.nvml is not None:
            self.nvml.close()

    @property
    def checking(self) -> bool:
        return self.nvml is not None and self.nvml.available

    # -- a grant's worker --------------------------------------------------------------
    def worker_for(self, alloc: Any, gpu_ids: list, enforce: int) -> tuple[str, dict[str, str]]:
        """(key, environment) of the worker a grant runs on; cached per allocation."""
        if not alloc.gpus:  # CPU work, the common case: no hashing of the allocation
            return _CPU_WORKER
        capped = bool(enforce & GPU_MEMORY) and len(alloc.gpus) == 1 and alloc.gpus[0][1] < UNIT
        cache_key = (alloc, capped)
        found = self._envs.get(cache_key)
        if found is None:
            cuda = ",".join(map(str, gpu_ids))
            env = {"CUDA_VISIBLE_DEVICES": cuda}
            fraction = alloc.gpus[0][1] / UNIT if capped else None
            if fraction is not None:
                env.update(gpu_memory_env(fraction, self._total_mb(gpu_ids[0]), os.environ))
            found = self._envs[cache_key] = (worker_key(cuda, fraction), env)
        return found

    def _total_mb(self, gpu_id: Any) -> int | None:
        if not self.checking:
            return None
        try:
            return self.nvml.total_mb(gpu_id)
        except Exception:  # a pretend GPU (init(num_gpus=) above the real count)
            return None

    # -- memory left behind --------------------------------------------------------------
    def holds(self, gpu_ids: list, enforce: int) -> bool:
        """True if a grant with these GPU ids, under mask ``enforce``, waits for its process to end."""
        return bool(gpu_ids) and bool(enforce & GPU_MEMORY)

    def release_after_exit(self, w: Any, key: Any, what: str, then: Callable[[], None] | None = None) -> Any:
        """Give ``key``'s resources back once ``w``'s process has ended and NVML no longer lists it;
        then call ``then`` (a retry, queued once its old grant is free). Returns the owned task."""
        return self.own(self._release_when_gone(w, key, what, then))

    async def _release_when_gone(self, w: Any, key: Any, what: str, then: Callable[[], None] | None) -> None:
        await self.wait_gone(w, what)
        self.release(key)  # (not when cancelled: the node is shutting down)
        if then is not None:
            then()

    async def wait_gone(self, w: Any, what: str) -> None:
        """Until ``w``'s process has exited (killed if it does not) and, with NVML, is no longer
        listed on any GPU; says so and returns when that takes too long."""
        try:
            try:
                await asyncio.wait_for(asyncio.shield(w.exit_code), EXIT_WAIT_S)
            except asyncio.TimeoutError:
                w.kill()
                await asyncio.wait_for(asyncio.shield(w.exit_code), EXIT_WAIT_S)
            if self.checking and w.pid is not None:
                await self._until_gone(w.pid, what)
        except asyncio.TimeoutError:  # not even SIGKILL ended it: say so, and don't hold the GPU forever
            logger.warning("greenroom: the worker (pid=%s) that ran %s did not exit; its GPUs are granted "
                           "again", w.pid, what)  # fmt: skip
        except Exception as e:  # NVML failed: the process has exited, which is what matters most
            logger.warning("greenroom: could not ask NVML about the worker (pid=%s) that ran %s: %s",
                           w.pid, what, e)  # fmt: skip

    async def _until_gone(self, pid: int, what: str) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + GONE_WAIT_S
        held = self.nvml.held_by(pid)
        while held:
            if loop.time() > deadline:
                logger.warning(
                    "greenroom: %s ended, but NVML still lists its process (pid=%s) %s %.0f s later; "
                    "its GPUs are granted again anyway (a driver slow to free a context, or memory "
                    "another process maps)", what, pid, _describe(held), GONE_WAIT_S,
                )  # fmt: skip
                return
            await asyncio.sleep(POLL_S)  # NVML has no event to wait on
            held = self.nvml.held_by(pid)

    def after_task(self, w: Any, what: str) -> None:
        """A GPU task ended on a worker that lives on: report GPU memory its process keeps (once a worker)."""
        if not self.checking or w.pid is None or w.id in self._checked:
            return
        self._checked.add(w.id)
        try:
            held = self.nvml.held_by(w.pid)
        except Exception:
            return
        if held:
            logger.warning(
                "greenroom: %s ended, and its worker (pid=%s) still %s: the process keeps it (a CUDA "
                "context, cached tensors) until it exits. Use max_calls=1 (the default for GPU tasks) to "
                "give it back after each task, or free it in the task (torch.cuda.empty_cache())",
                what, w.pid, _describe(held),
            )  # fmt: skip

    def worker_gone(self, w: Any) -> None:
        self._checked.discard(w.id)


def _describe(held: dict[int, int | None]) -> str:
    parts = [f"{mib(used)} on GPU {index} (NVML index)" for index, used in sorted(held.items())]
    return "holds " + ", ".join(parts)
