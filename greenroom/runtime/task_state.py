"""A task's lifecycle as pure logic: events in, decisions out, no I/O.

Phases (``TaskState.phase``)::

    WAITING --deps ready--> QUEUED --granted--> STARTING --dispatched--> RUNNING --finished--> DONE
                              |  ^                                          ^   |
                    follow()  |  | follower_back()               handed_over()  +--retry--> QUEUED
                              v  |                                          |
                            FOLLOWING ---------------------------------------+

- WAITING: some ObjectRef arguments are not ready yet.
- QUEUED: in the scheduler's queue, waiting for resources.
- STARTING: resources granted, its worker is not ready yet (forking).
- FOLLOWING: sent ahead to a busy worker behind a short task of the same shape
  (see node_pipeline.py); it holds no resources of its own until handed over.
- RUNNING: on its worker (or handed over, about to start there).
- DONE: its results (or error) are stored.

The node feeds events (the methods below) and carries out what they return:
one of the decision constants. Cancellation is a flag plus, for a follower
whose RECALL is unanswered, how to stop it should it have started anyway.
"""

from __future__ import annotations

from collections.abc import Callable

WAITING = "WAITING"
QUEUED = "QUEUED"
FOLLOWING = "FOLLOWING"
STARTING = "STARTING"
RUNNING = "RUNNING"
DONE = "DONE"

# Decisions.
NOTHING = "nothing"
ENQUEUE = "enqueue"  # submit it to the scheduler
START = "start"  # take a worker and send it the task
RELEASE = "release"  # give the granted resources back; the task is already finished
FINISH = "finish"  # store its results
FINISH_CANCELLED = "finish_cancelled"  # store TaskCancelledError as its results
RELEASE_AND_FINISH_CANCELLED = "release_and_finish_cancelled"
RETRY = "retry"  # queue it again (one retry spent): like ENQUEUE
REQUEUE = "requeue"  # queue it again where it was (a follower given back: no retry spent)
RECALL = "recall"  # ask its worker to drop it before it starts
INTERRUPT = "interrupt"  # SIGINT its worker (KeyboardInterrupt in the task)
KILL = "kill"  # SIGKILL its worker
FAIL_CRASHED = "fail_crashed"  # WorkerCrashedError: its worker died, no retry left
FAIL_BROKEN = "fail_broken"  # the node can start no worker any more


class TaskState:
    """Where one task is in its life; see the module docstring."""

    __slots__ = ("phase", "retries_left", "deps_pending", "cancelled", "stop_with", "recalling", "report_cancelled")

    def __init__(self, max_retries: int) -> None:
        self.phase = WAITING
        self.retries_left: float = max_retries if max_retries >= 0 else float("inf")
        self.deps_pending = 0
        self.cancelled = False
        self.stop_with = INTERRUPT  # how cancel() stops it once it runs: INTERRUPT or KILL
        self.recalling = False  # cancelled while following: its RECALL is not answered yet
        self.report_cancelled = False  # it may have started after cancel(): report it cancelled

    # -- arguments and queueing ---------------------------------------------------------
    def accept(self, deps_pending: int) -> str:
        """Submitted, with ``deps_pending`` arguments not ready yet."""
        self.deps_pending = deps_pending
        return NOTHING if deps_pending else self._enqueue()

    def dep_ready(self) -> str:
        self.deps_pending -= 1
        if self.deps_pending or self.phase != WAITING:
            return NOTHING
        return self._enqueue()

    def _enqueue(self) -> str:
        if self.cancelled:  # finished at cancel() already
            return NOTHING
        self.phase = QUEUED
        return ENQUEUE

    # -- starting -----------------------------------------------------------------------
    def granted(self) -> str:
        """The scheduler granted its resources."""
        if self.cancelled or self.phase != QUEUED:
            return RELEASE
        self.phase = STARTING
        return START

    def dispatched(self) -> None:
        """Its worker was sent the task."""
        self.phase = RUNNING

    def start_failed(self) -> None:
        """No worker could be given the grant: it fails (the shell says why)."""
        self.phase = DONE

    def can_follow(self) -> bool:
        return self.phase == QUEUED and not self.cancelled

    def follow(self) -> None:
        """Taken from the queue to be sent ahead to a busy worker."""
        self.phase = FOLLOWING

    def handed_over(self) -> str:
        """Its leader finished: it holds the leader's resources and starts now. A follower
        cancelled while its RECALL is unanswered may be starting: stop it like a running task."""
        self.phase = RUNNING
        if self.recalling:
            self.report_cancelled = True
            return self.stop_with
        return NOTHING

    def follower_back(self) -> str:
        """Taken off its busy worker before it started (the leader blocked in get(), the
        worker died, or the worker dropped it on RECALL)."""
        if self.recalling:
            self.recalling = False
            self.phase = DONE
            return FINISH_CANCELLED
        self.phase = QUEUED
        return REQUEUE

    def recalled(self, removed: bool) -> str:
        """The worker answered a RECALL sent at cancel(): ``removed`` if it never started it."""
        if not self.recalling:
            return NOTHING
        if not removed:  # it ran: its DONE reports it cancelled (report_cancelled is set)
            self.recalling = False
            return NOTHING
        if self.phase == FOLLOWING:
            return self.follower_back()
        self.recalling = False  # handed over, but its worker never started it
        self.phase = DONE
        return RELEASE_AND_FINISH_CANCELLED

    # -- ending -------------------------------------------------------------------------
    def finished(self, error: bool, retryable: Callable[[], bool] | None) -> str:
        """Its worker reported it done; ``error``: it raised. ``retryable()`` (given with an
        error) says whether that error is one to retry (``retry_exceptions``)."""
        if self.report_cancelled or (error and self.cancelled):
            self.phase = DONE
            return FINISH_CANCELLED
        if error and self.retries_left > 0 and retryable():
            return self._retry()
        self.phase = DONE
        return FINISH

    def crashed(self, node_broken: bool) -> str:
        """Its worker died while it ran (or was about to)."""
        if self.cancelled:
            self.phase = DONE
            return FINISH_CANCELLED
        if node_broken:
            self.phase = DONE
            return FAIL_BROKEN
        if self.retries_left > 0:
            return self._retry()
        self.phase = DONE
        return FAIL_CRASHED

    def _retry(self) -> str:
        self.retries_left -= 1
        self.phase = QUEUED
        return RETRY

    def cancel(self, force: bool) -> str:
        """``cancel()`` was called for it."""
        if self.phase == DONE:
            return NOTHING
        self.cancelled = True
        self.stop_with = KILL if force else INTERRUPT
        if self.phase in (WAITING, QUEUED):
            self.phase = DONE
            return FINISH_CANCELLED
        if self.phase == STARTING:  # its worker is still forking: it never starts
            self.phase = DONE
            return RELEASE_AND_FINISH_CANCELLED
        if self.phase == FOLLOWING:
            if self.recalling:
                return NOTHING
            self.recalling = True
            return RECALL
        # Running: its worker may not have read its EXEC yet, so a RECALL goes first (the
        # worker drops it unstarted if so) and SIGINT interrupts it if it has started.
        self.recalling = self.stop_with == INTERRUPT
        return self.stop_with

    def finish(self) -> None:
        """Its results were stored another way (an argument failed, it can never run)."""
        self.phase = DONE
