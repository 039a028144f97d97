"""One training attempt's reports, rank by rank, as pure logic: events in, decisions out.

Every rank calls ``train.report()`` the same number of times, and each call
blocks until every rank has made the same call: a *round*. When the last rank
of a round reports, the round is complete (rank 0's metrics are the result,
as in Ray) and every rank is asked for its next event. A rank that returns
from its loop is done; when every rank is done after the same number of
rounds, the attempt has finished. A rank that reports once more than a done
rank did, or is done before a round other ranks reported in is complete, is
an error: ranks that report unequal numbers of times would otherwise wait for
each other forever.

``ReportRounds`` never waits or touches a process; the worker group's shell
(``controller.py``) feeds it each worker's events and carries out its answers.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class Report:
    """One ``train.report()`` call of one rank."""

    metrics: dict
    staged: str | None = None  # the directory the rank copied its checkpoint into, if it gave one
    dir_name: str | None = None  # the checkpoint directory's name it asked for (``checkpoint_dir_name``)


@dataclass(frozen=True, slots=True)
class RoundComplete:
    """Every rank reported for round ``index`` (0-based); ``reports[r]`` is rank r's."""

    index: int
    reports: tuple[Report, ...]


@dataclass(frozen=True, slots=True)
class AskNext:
    """Ask these ranks for their next event (releasing them from the report they wait in)."""

    ranks: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class Finished:
    """Every rank returned from its loop, after ``rounds`` complete rounds."""

    rounds: int


@dataclass(frozen=True, slots=True)
class Unequal:
    """Ranks reported unequal numbers of times: the attempt cannot go on."""

    message: str


Decision = RoundComplete | AskNext | Finished | Unequal


class ReportRounds:
    """The reports of ``world_size`` ranks, in rounds (see the module docstring)."""

    def __init__(self, world_size: int) -> None:
        if world_size < 1:
            raise ValueError(f"world_size={world_size!r}: expected at least 1")
        self.world_size = world_size
        self.completed = 0  # rounds complete so far
        self._current: dict[int, Report] = {}  # this round's reports so far, by rank
        self._done: dict[int, int] = {}  # rank -> rounds it completed before returning
        self.failed = False

    @property
    def waiting_on(self) -> list[int]:
        """Ranks whose event for the current round has not come yet."""
        return [r for r in range(self.world_size) if r not in self._current and r not in self._done]

    def start(self) -> list[Decision]:
        """The loops have started: ask every rank for its first event."""
        return [AskNext(tuple(range(self.world_size)))]

    def reported(self, rank: int, report: Report) -> list[Decision]:
        """Rank ``rank`` called ``train.report()`` (its ``completed + 1``-th call)."""
        self._check(rank)
        self._current[rank] = report
        if self._done:
            return self._unequal()
        return self._maybe_complete()

    def returned(self, rank: int) -> list[Decision]:
        """Rank ``rank`` returned from its training loop."""
        self._check(rank)
        self._done[rank] = self.completed
        if self._current:
            return self._unequal()
        if len(self._done) == self.world_size:
            return [Finished(self.completed)]
        return []

    def _maybe_complete(self) -> list[Decision]:
        if len(self._current) < self.world_size:
            return []
        reports = tuple(self._current[r] for r in range(self.world_size))
        index = self.completed
        self.completed += 1
        self._current = {}
        return [RoundComplete(index, reports), AskNext(tuple(range(self.world_size)))]

    def _unequal(self) -> list[Decision]:
        self.failed = True
        done = ", ".join(f"rank {r} returned after {n}" for r, n in sorted(self._done.items()))
        more = ", ".join(f"rank {r} reported {self.completed + 1} times" for r in sorted(self._current))
        return [Unequal(
            "every rank must call train.report() the same number of times (each call waits for "
            f"all ranks to make it): {more}, but {done}. Call train.report() on every rank, "
            "every time (only rank 0's metrics become the result; pass a checkpoint from rank 0 "
            "alone if the others have nothing to save)."
        )]  # fmt: skip

    def _check(self, rank: int) -> None:
        if not 0 <= rank < self.world_size:
            raise ValueError(f"rank {rank!r} is not in 0..{self.world_size - 1}")
        if self.failed:
            raise RuntimeError("the attempt already failed; start a new ReportRounds")
        if rank in self._current or rank in self._done:
            raise RuntimeError(f"rank {rank} sent an event before it was asked for one")


def rank_zero(reports: tuple[Report, ...]) -> dict[str, Any]:
    """The round's result: rank 0's metrics, as in Ray."""
    return dict(reports[0].metrics)
