"""Which workers the memory monitor kills, as pure logic: readings in, kills out, no I/O.

Two rules, checked on every look (node_memory.py looks every
``memory_refresh_ms``):

- **Own limit.** A task or actor that asked for ``memory=B`` is killed once its
  worker's resident memory passes B. Every such worker is killed, on the look
  that sees it over.
- **Node-wide guard** (Ray's memory monitor). When the machine's memory (or
  its cgroup's) is more than ``threshold`` used, one worker running work is
  killed: one that can be retried before one that can't, and among those the
  newest (it loses the least work), as Ray chooses. Only one at a time: no
  second victim while an earlier kill has not ended its process yet, and none
  on a look that already killed a worker over its own limit (that frees memory
  too).

Work that turned memory enforcement off (``_enforce={"memory": False}``) is not
a candidate at all; the shell leaves it out.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable
from dataclasses import dataclass

OWN_LIMIT = "own limit"
NODE_WIDE = "node-wide"


@dataclass(frozen=True, slots=True)
class Candidate:
    """A worker running work that memory is enforced on."""

    key: Hashable  # the worker, as the shell knows it
    rss: int | None  # resident bytes (read only for workers with a limit; None: not read)
    limit: int | None  # its memory= in bytes, None: no limit of its own
    retriable: bool  # killing it loses nothing for good: retries or restarts are left
    started: float  # when its current work started: larger is newer


@dataclass(frozen=True, slots=True)
class Kill:
    key: Hashable
    why: str  # OWN_LIMIT or NODE_WIDE


def over_threshold(used: int, total: int, threshold: float) -> bool:
    """True if ``used`` of ``total`` bytes is more than the ``threshold`` fraction."""
    return total > 0 and used > threshold * total


def decide(candidates: Iterable[Candidate], node_over: bool, killing: bool) -> list[Kill]:
    """The kills for one look.

    Args:
        candidates: workers running work that memory is enforced on.
        node_over: the machine is over the threshold (``over_threshold``).
        killing: a worker killed earlier has not ended yet.
    """
    candidates = list(candidates)
    kills = [
        Kill(c.key, OWN_LIMIT)
        for c in candidates
        if c.limit is not None and c.rss is not None and c.rss > c.limit
    ]
    if kills or not node_over or killing or not candidates:
        return kills
    victim = max(candidates, key=lambda c: (c.retriable, c.started))
    return [Kill(victim.key, NODE_WIDE)]


def mib(nbytes: int | None) -> str:
    """Bytes for messages: '412.0 MiB', '1.25 GiB'."""
    if nbytes is None:
        return "an unknown amount"
    if nbytes >= 1 << 30:
        return f"{nbytes / (1 << 30):.2f} GiB"
    return f"{nbytes / (1 << 20):.1f} MiB"
