"""What ran where and when, for ``greenroom.timeline()``: Chrome trace events.

The node records one event per finished task, actor creation and actor call:
name, worker pid, start and end, GPU ids. Recording is an append to a bounded
deque (the oldest events go first); the events are turned into Chrome's trace
format (what chrome://tracing and Perfetto open) only when asked for.
"""

from __future__ import annotations

import collections
import time


class Timeline:
    """A bounded record of finished work; times are the node loop's clock (seconds)."""

    def __init__(self, clock_now: float, maxlen: int = 100_000) -> None:
        self._events: collections.deque = collections.deque(maxlen=maxlen)
        self._epoch = time.time() - clock_now  # loop clock -> wall clock

    def record(self, category: str, name: str, pid: int | None, start: float, end: float, gpus: list) -> None:
        self._events.append((category, name, pid, start, end, gpus))

    def chrome_trace(self) -> list[dict]:
        """The events as Chrome trace "complete" events (ph "X"), microseconds since the epoch."""
        out = []
        for category, name, pid, start, end, gpus in self._events:
            out.append({
                "cat": category, "name": name, "ph": "X", "pid": "greenroom", "tid": f"worker pid={pid}",
                "ts": (self._epoch + start) * 1e6, "dur": max(end - start, 0.0) * 1e6,
                "args": {"worker_pid": pid, "gpu_ids": list(gpus)},
            })  # fmt: skip
        return out
