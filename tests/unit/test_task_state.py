"""The task lifecycle as pure logic (runtime/task_state.py): every transition, no processes."""

from __future__ import annotations

import pytest

from greenroom.runtime.task_state import (
    DONE, ENQUEUE, FAIL_BROKEN, FAIL_CRASHED, FINISH, FINISH_CANCELLED, FOLLOWING, INTERRUPT, KILL,
    NOTHING, QUEUED, RECALL, RELEASE, RELEASE_AND_FINISH_CANCELLED, REQUEUE, RETRY, RUNNING, START,
    STARTING, WAITING, TaskState,
)  # fmt: skip

pytestmark = pytest.mark.timeout(5)

never = lambda: False  # noqa: E731
always = lambda: True  # noqa: E731


def running(max_retries: int = 3) -> TaskState:
    t = TaskState(max_retries)
    assert t.accept(0) == ENQUEUE
    assert t.granted() == START
    t.dispatched()
    return t


def following(max_retries: int = 3) -> TaskState:
    t = TaskState(max_retries)
    t.accept(0)
    assert t.can_follow()
    t.follow()
    return t


def test_a_task_without_pending_arguments_is_queued_at_once():
    """accept() with no pending argument enqueues it."""
    t = TaskState(3)
    assert t.accept(0) == ENQUEUE and t.phase == QUEUED


def test_a_task_waits_for_its_arguments_then_is_queued():
    """It is queued when its last pending argument becomes ready, not before."""
    t = TaskState(3)
    assert t.accept(2) == NOTHING and t.phase == WAITING
    assert t.dep_ready() == NOTHING
    assert t.dep_ready() == ENQUEUE and t.phase == QUEUED


def test_grant_starts_then_dispatch_runs_then_success_finishes():
    """The plain way through: granted -> STARTING -> RUNNING -> DONE."""
    t = TaskState(3)
    t.accept(0)
    assert t.granted() == START and t.phase == STARTING
    t.dispatched()
    assert t.phase == RUNNING
    assert t.finished(False, never) == FINISH and t.phase == DONE


def test_an_error_is_retried_only_when_retryable_and_within_budget():
    """retry_exceptions decides; each retry spends one of max_retries, then the error stands."""
    t = running(max_retries=2)
    assert t.finished(True, never) == FINISH
    t = running(max_retries=2)
    assert t.finished(True, always) == RETRY and t.phase == QUEUED
    t.granted(), t.dispatched()
    assert t.finished(True, always) == RETRY
    t.granted(), t.dispatched()
    assert t.finished(True, always) == FINISH and t.phase == DONE


def test_retryable_is_not_asked_without_budget():
    """With no retry left the error is not even unpickled to ask (retryable() is not called)."""
    t = running(max_retries=0)

    def boom() -> bool:
        raise AssertionError("asked")

    assert t.finished(True, boom) == FINISH


def test_a_crash_is_retried_until_the_budget_is_spent():
    """A dead worker spends a retry each time, then WorkerCrashedError."""
    t = running(max_retries=1)
    assert t.crashed(node_broken=False) == RETRY
    t.granted(), t.dispatched()
    assert t.crashed(node_broken=False) == FAIL_CRASHED and t.phase == DONE


def test_max_retries_minus_one_retries_forever():
    """max_retries=-1: crashes are retried however many there are."""
    t = running(max_retries=-1)
    for _ in range(100):
        assert t.crashed(node_broken=False) == RETRY
        t.granted(), t.dispatched()


def test_a_broken_node_fails_instead_of_retrying():
    """No worker can start any more: the task fails with the node's reason."""
    t = running()
    assert t.crashed(node_broken=True) == FAIL_BROKEN


def test_cancel_before_start_finishes_it_cancelled():
    """Waiting for arguments or queued: it never runs."""
    t = TaskState(3)
    t.accept(1)
    assert t.cancel(force=False) == FINISH_CANCELLED and t.phase == DONE
    assert t.dep_ready() == NOTHING  # a late argument does not queue it
    t = TaskState(3)
    t.accept(0)
    assert t.cancel(force=True) == FINISH_CANCELLED


def test_cancel_while_its_worker_starts_gives_the_grant_back():
    """Granted but its worker is still forking: release the resources, never send it."""
    t = TaskState(3)
    t.accept(0)
    t.granted()
    assert t.cancel(force=False) == RELEASE_AND_FINISH_CANCELLED and t.phase == DONE


def test_a_grant_that_arrives_after_cancel_is_released():
    """The scheduler granted a task already cancelled: hand the resources back."""
    t = TaskState(3)
    t.accept(0)
    t.cancel(force=False)
    assert t.granted() == RELEASE


def test_cancel_while_running_interrupts_or_kills():
    """Running: SIGINT (KeyboardInterrupt) by default, the worker killed with force=True."""
    assert running().cancel(force=False) == INTERRUPT
    assert running().cancel(force=True) == KILL


def test_a_cancelled_task_reports_cancelled_whatever_it_raised_and_is_not_retried():
    """The KeyboardInterrupt it raised (or its crash) becomes TaskCancelledError, no retry."""
    t = running()
    t.cancel(force=False)
    assert t.finished(True, always) == FINISH_CANCELLED
    t = running()
    t.cancel(force=True)
    assert t.crashed(node_broken=False) == FINISH_CANCELLED


def test_cancel_after_it_finished_does_nothing():
    """A task already done stays as it ended."""
    t = running()
    t.finished(False, never)
    assert t.cancel(force=True) == NOTHING


def test_a_follower_handed_over_runs_like_any_task():
    """Following a short leader: on hand-over it runs with the leader's resources."""
    t = following()
    assert t.phase == FOLLOWING
    assert t.handed_over() == NOTHING and t.phase == RUNNING
    assert t.finished(False, never) == FINISH


def test_a_follower_given_back_is_queued_again_without_spending_a_retry():
    """Its leader blocked in get(), or its worker died before it started: back to the queue."""
    t = following(max_retries=0)
    assert t.follower_back() == REQUEUE and t.phase == QUEUED
    assert t.retries_left == 0 and t.can_follow()


def test_cancelling_a_follower_recalls_it_and_it_ends_when_dropped():
    """A cancelled follower is recalled; the worker dropping it finishes it cancelled."""
    t = following()
    assert t.cancel(force=False) == RECALL
    assert t.cancel(force=False) == NOTHING  # the RECALL is on its way already
    assert not t.can_follow()
    assert t.recalled(removed=True) == FINISH_CANCELLED and t.phase == DONE


def test_a_recalled_follower_that_had_started_reports_cancelled():
    """Handed over before the RECALL arrived: stopped like a running task, reported cancelled."""
    t = following()
    t.cancel(force=True)
    assert t.handed_over() == KILL
    assert t.recalled(removed=False) == NOTHING
    assert t.finished(False, never) == FINISH_CANCELLED


def test_a_handed_over_follower_that_never_started_gives_back_its_resources():
    """Handed over, but the worker dropped it on RECALL: release and finish cancelled."""
    t = following()
    t.cancel(force=False)
    assert t.handed_over() == INTERRUPT
    assert t.recalled(removed=True) == RELEASE_AND_FINISH_CANCELLED and t.phase == DONE


def test_a_cancelled_follower_whose_worker_dies_ends_cancelled():
    """Its worker died before answering the RECALL: it is finished, not queued again."""
    t = following()
    t.cancel(force=False)
    assert t.follower_back() == FINISH_CANCELLED and t.phase == DONE


def test_a_recall_answer_for_a_task_not_being_cancelled_is_ignored():
    """The answer to a RECALL sent when a leader blocked needs nothing done."""
    t = following()
    t.follower_back()
    assert t.recalled(removed=True) == NOTHING and t.phase == QUEUED
