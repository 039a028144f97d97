"""The memory monitor: memory= limits and the node-wide guard, carried out on the node's loop.

Every ``memory_refresh_ms`` (100 ms by default; Ray's RAY_memory_monitor_refresh_ms)
the monitor looks at the workers running work that memory is enforced on. It
reads the resident memory of those that asked for ``memory=`` (one read of
``/proc/<pid>/statm``: resident less shared pages, so the object store's shared
memory a worker maps is not counted, as Ray counts it) and, when there is any
such work, the machine's (or its cgroup's) memory in use. ``memory_policy.decide``
says whom to kill; a killed worker's ``lost_reason`` and ``out_of_memory`` say
why and what to change, and its task or actor fails with ``OutOfMemoryError``
(after its retries, like any other worker death: node_tasks.py, actor_host.py).

The look costs a few microseconds per watched worker and nothing on a task's
way through the node; ``looks`` and ``look_s`` count it. Loop thread only.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
import os
import time
from typing import Any

from greenroom import _config as config
from greenroom.runtime.limits import MEMORY, NodeEnforcement
from greenroom.runtime.memory_policy import OWN_LIMIT, Candidate, decide, mib, over_threshold
from greenroom.runtime.task_state import RUNNING
from greenroom.runtime.worker_pool import WorkerPool, WorkerProc
from greenroom.scheduler.resources import UNIT

logger = logging.getLogger("greenroom")
_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def resident(pid: int) -> int | None:
    """Resident, not shared, bytes of process ``pid`` (None if it is gone)."""
    try:
        with open(f"/proc/{pid}/statm", "rb") as f:
            fields = f.read().split()
        return (int(fields[1]) - int(fields[2])) * _PAGE
    except (OSError, ValueError, IndexError):
        return None


class NodeMemory:
    """Owns the monitor's timer and the workers it killed that have not ended yet."""

    def __init__(self, pool: WorkerPool, enforcement: NodeEnforcement) -> None:
        self.pool = pool
        self.mask = enforcement.effective_mask
        self.threshold = enforcement.memory_usage_threshold
        self.period = enforcement.memory_refresh_ms / 1000
        self.usage = config.memory_usage_reader()
        self.killing: set[int] = set()  # ids of workers killed whose process has not ended yet
        self.looks = 0  # looks that found work to watch
        self.look_s = 0.0  # the time they took
        self.recent: deque[float] = deque(maxlen=256)  # the last ones' durations (s), for their median
        self._timer: asyncio.TimerHandle | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        if self.period > 0 and self.mask & MEMORY:
            self._loop = loop
            self._timer = loop.call_later(self.period, self._look)

    def stop(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def worker_lost(self, w: WorkerProc) -> None:
        self.killing.discard(w.id)

    # -- one look ----------------------------------------------------------------------
    def _look(self) -> None:
        self._timer = self._loop.call_later(self.period, self._look)
        started = time.perf_counter()
        candidates: list[Candidate] = []
        watched: dict[int, tuple[WorkerProc, str, int | None, int | None]] = {}
        for w in self.pool.workers.values():
            if not w.ready or w.pid is None or w.id in self.killing:
                continue
            work = self._work(w)
            if work is None:
                continue
            what, limit, retriable, since = work
            rss = resident(w.pid) if limit else None
            watched[w.id] = (w, what, limit, rss)
            candidates.append(Candidate(w.id, rss, limit, retriable, since))
        if not candidates:
            return
        used, total = self.usage()
        kills = decide(candidates, over_threshold(used, total, self.threshold), bool(self.killing))
        for kill in kills:
            w, what, limit, rss = watched[kill.key]
            if kill.why == OWN_LIMIT:
                self._kill_over_limit(w, what, rss, limit)
            else:
                self._kill_for_node(w, what, used, total)
        took = time.perf_counter() - started
        self.looks += 1
        self.look_s += took
        self.recent.append(took)

    def _work(self, w: WorkerProc) -> tuple[str, int | None, bool, float] | None:
        """(what it runs, its memory limit in bytes, whether it can be retried, since when), or
        None when it runs nothing memory is enforced on."""
        task, rec = w.task, w.actor
        if task is not None and task.state.phase == RUNNING:
            spec = task.spec
            if not spec.enforce & self.mask & MEMORY:
                return None
            limit = spec.request.get("memory") // UNIT or None
            return f"task {spec.name!r}", limit, task.state.retries_left > 0, w.started_at
        if rec is not None and rec.worker is w:
            if not rec.spec.enforce & self.mask & MEMORY:
                return None
            limit = rec.request.get("memory") // UNIT or None
            state = rec.state
            retriable = state.max_restarts < 0 or state.restarts < state.max_restarts
            return f"actor {rec.spec.class_name}", limit, retriable, w.started_at
        return None

    def _kill_over_limit(self, w: WorkerProc, what: str, rss: int | None, limit: int | None) -> None:
        self._kill(
            w, what,
            f"greenroom killed it: its resident memory, {mib(rss)}, passed its limit "
            f"memory={limit} ({mib(limit)})",
            "ask for more with memory=..., use less memory in it, or turn the limit off for it with "
            "_enforce={'memory': False}",
        )  # fmt: skip

    def _kill_for_node(self, w: WorkerProc, what: str, used: int, total: int) -> None:
        self._kill(
            w, what,
            f"greenroom killed it to free memory: the machine's memory was {used / total:.1%} used "
            f"({mib(used)} of {mib(total)}), over the threshold of {self.threshold * 100:g}%, and this "
            "worker "
            f"held {mib(resident(w.pid))} resident (greenroom picks the newest work that can be retried "
            "first, as Ray does)",
            "run fewer memory-hungry tasks at once (memory= makes the scheduler count their memory), raise "
            "the threshold with init(_memory_usage_threshold=...) or RAY_memory_usage_threshold, or exempt "
            "this work with _enforce={'memory': False}",
        )  # fmt: skip

    def _kill(self, w: WorkerProc, what: str, reason: str, advice: str) -> None:
        w.lost_reason = reason
        w.out_of_memory = advice
        self.killing.add(w.id)
        logger.warning("greenroom: killed worker pid=%s running %s: %s", w.pid, what, reason)
        w.kill()

    def stats(self) -> dict[str, Any]:
        """How often the monitor looked at work and what that cost (for benchmarks)."""
        recent = sorted(self.recent)
        median = recent[len(recent) // 2] if recent else None
        return {"looks": self.looks, "look_s": self.look_s, "median_look_s": median, "period_s": self.period}
