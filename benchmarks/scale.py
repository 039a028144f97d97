"""What the scale curves share: sizes a factor of 10 apart, per-size medians, a CPU blocker.

A scale workload measures one figure at three sizes (``sizes``), each the median
of ``reps`` repetitions (``curve``); its metrics are named ``figure@size``
("submit@100k"), so the table shows a curve as consecutive rows with the peers'
figures beside them. A peer that cannot reach greenroom's top size in a
run of a few minutes gets a smaller top size (``caps``), still with three sizes;
its cells at greenroom's other sizes stay empty.
"""

from __future__ import annotations

import gc
import os
import statistics
import tempfile
import time
from collections.abc import Callable

from harness import Metrics
from workloads_actors import tree_memory

# Sizes at or above this run once, not ``reps`` times: a million tasks take a minute.
ONCE_FROM = 1_000_000


def label(n: int) -> str:
    """1_000 -> "1k", 1_000_000 -> "1M"."""
    for unit, div in (("M", 1_000_000), ("k", 1_000)):
        if n >= div and n % div == 0:
            return f"{n // div}{unit}"
    return str(n)


def sizes(lib: str, top: int, caps: dict[str, int] | None = None) -> list[int]:
    """Three sizes a factor of 10 apart ending at ``top``, or at the lib's cap when it
    has one and it is lower (sizes below 1 are dropped)."""
    top = min(top, (caps or {}).get(lib, top))
    return [s for s in (top // 100, top // 10, top) if s >= 1]


def curve(once: Callable[[int], Metrics], ns: list[int], reps: int) -> Metrics:
    """``once(n)`` at each size (after one warm-up at the smallest): per-metric medians,
    named ``metric@size``."""
    once(ns[0])
    out: Metrics = {}
    for n in ns:
        runs = [once(n) for _ in range(1 if n >= ONCE_FROM else reps)]
        for metric, (_, unit) in runs[0].items():
            out[f"{metric}@{label(n)}"] = (statistics.median(r[metric][0] for r in runs), unit)
        gc.collect()
    return out


def pss_mb() -> float:
    """Summed PSS, in MB, of this process and all its descendants (the whole runtime)."""
    gc.collect()
    return tree_memory("tree")["tree_pss"][0]


def processes() -> int:
    import psutil

    return len(psutil.Process().children(recursive=True))


def settle_processes(count: int, deadline_s: float = 20.0) -> None:
    """Wait until this process has at most ``count`` descendants again (killed actors gone)."""
    end = time.monotonic() + deadline_s
    while processes() > count and time.monotonic() < end:
        time.sleep(0.05)


def hold_until(path: str) -> int:
    """A task that holds its CPU until ``path`` exists (polling: works the same in every runtime)."""
    while not os.path.exists(path):
        time.sleep(0.002)
    return 0


class Gate:
    """A file the blocker tasks wait for: ``open()`` lets them finish."""

    def __init__(self) -> None:
        fd, self.path = tempfile.mkstemp(prefix="bench-gate-")
        os.close(fd)
        os.unlink(self.path)

    def open(self) -> None:
        with open(self.path, "w"):
            pass

    def close(self) -> None:
        if os.path.exists(self.path):
            os.unlink(self.path)
