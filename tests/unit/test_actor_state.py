"""ActorState: the actor lifecycle as pure logic, events in and decisions out, no loop."""

from __future__ import annotations

import pytest

from greenroom.runtime.actor_state import ALIVE, DEAD, PENDING, RESTARTING, ActorState


def alive(max_restarts: int = 0, max_task_retries: int = 0) -> ActorState:
    s = ActorState(max_restarts, max_task_retries)
    s.created()
    return s


def test_starts_pending_and_sends_nothing():
    """A new actor is PENDING and holds its calls until it is created."""
    s = ActorState(0, 0)
    assert s.state == PENDING and not s.alive
    s.submit("a")
    s.submit("b")
    assert s.sendable() == []
    assert not s.idle()


def test_created_sends_queued_calls_in_order():
    """Once ALIVE, queued calls go out in submission order and count as in flight."""
    s = ActorState(0, 0)
    for key in "abc":
        s.submit(key)
    s.created()
    assert s.state == ALIVE and s.alive
    assert s.sendable() == ["a", "b", "c"]
    assert s.sendable() == []
    assert list(s.inflight) == ["a", "b", "c"]
    s.submit("d")
    assert s.sendable() == ["d"]


def test_done_makes_idle():
    """Finishing every call in flight leaves the actor idle."""
    s = alive()
    s.submit("a")
    s.submit("b")
    s.sendable()
    s.done("a")
    assert not s.idle()
    s.done("b")
    assert s.idle()
    s.done("unknown")  # a late or duplicate completion is harmless
    assert s.idle()


def test_constructor_failure_is_dead_and_fails_all():
    """A constructor error makes it DEAD with the reason; every call fails; no restart."""
    s = ActorState(5, 5)
    s.submit("a")
    s.submit("b")
    failed = s.constructor_failed("ValueError: boom")
    assert failed == ["a", "b"]
    assert s.state == DEAD and s.death_reason == "ValueError: boom"
    assert s.idle() and s.sendable() == []


def test_killed_fails_inflight_then_queued():
    """kill() fails the calls in flight and the queued ones, in flight first."""
    s = alive(max_restarts=3, max_task_retries=3)
    s.submit("a")
    s.submit("b")
    s.sendable()
    s.submit("c")
    assert s.killed("killed") == ["a", "b", "c"]
    assert s.state == DEAD and s.death_reason == "killed"
    assert s.idle()


def test_submit_to_dead_actor_raises():
    """Submitting to a dead actor is a caller bug: it must fail the call instead."""
    s = alive()
    s.killed("gone")
    with pytest.raises(ValueError):
        s.submit("a")


def test_created_after_death_stays_dead():
    """A late 'created' event does not bring a dead actor back."""
    s = ActorState(0, 0)
    s.killed("out of scope")
    s.created()
    assert s.state == DEAD


def test_crash_without_restarts_is_death():
    """max_restarts=0: a crash is final and fails everything in flight and queued."""
    s = alive(max_restarts=0, max_task_retries=5)
    s.submit("a")
    s.sendable()
    s.submit("b")
    d = s.process_died("exit code 1")
    assert d.restart is False and d.retry == []
    assert d.fail == ["a", "b"]
    assert s.state == DEAD and s.death_reason == "exit code 1"


def test_restart_fails_inflight_without_task_retries():
    """max_task_retries=0: a restart fails the calls in flight and keeps the queued ones."""
    s = alive(max_restarts=1, max_task_retries=0)
    s.submit("a")
    s.submit("b")
    s.sendable()
    s.submit("c")
    d = s.process_died("exit code 1")
    assert d.restart is True and d.retry == [] and d.fail == ["a", "b"]
    assert s.state == RESTARTING and s.restarts == 1
    assert s.sendable() == []  # nothing goes out until it is ALIVE again
    s.created()
    assert s.sendable() == ["c"]


def test_retried_calls_go_before_queued_ones():
    """max_task_retries=1: calls in flight are retried, in order, ahead of never-sent calls."""
    s = alive(max_restarts=1, max_task_retries=1)
    s.submit("a")
    s.submit("b")
    s.sendable()
    s.submit("c")
    s.submit("d")
    d = s.process_died("SIGKILL")
    assert d.restart is True and d.retry == ["a", "b"] and d.fail == []
    assert not s.inflight
    s.created()
    assert s.sendable() == ["a", "b", "c", "d"]


def test_task_retries_are_counted_per_call():
    """A call is retried at most max_task_retries times; a fresh call gets its own budget."""
    s = alive(max_restarts=-1, max_task_retries=1)
    s.submit("a")
    s.sendable()
    assert s.process_died("crash 1").retry == ["a"]
    s.created()
    assert s.sendable() == ["a"]
    s.submit("b")
    s.sendable()
    d = s.process_died("crash 2")
    assert d.restart is True and d.fail == ["a"] and d.retry == ["b"]
    s.created()
    assert s.sendable() == ["b"]


def test_done_resets_the_retry_budget():
    """A retried call that finishes is forgotten: the same key later starts afresh."""
    s = alive(max_restarts=-1, max_task_retries=1)
    s.submit("a")
    s.sendable()
    s.process_died("crash")
    s.created()
    s.sendable()
    s.done("a")
    assert "a" not in s.retries
    s.submit("a")
    s.sendable()
    assert s.process_died("crash again").retry == ["a"]


def test_unlimited_task_retries():
    """max_task_retries=-1 retries a call on every restart."""
    s = alive(max_restarts=-1, max_task_retries=-1)
    s.submit("a")
    for i in range(20):
        assert s.sendable() == ["a"]
        d = s.process_died(f"crash {i}")
        assert d.restart and d.retry == ["a"] and d.fail == []
        s.created()


def test_restarts_run_out():
    """max_restarts=2: two crashes restart it, the third is death."""
    s = alive(max_restarts=2, max_task_retries=0)
    assert s.process_died("1").restart is True
    s.created()
    assert s.process_died("2").restart is True
    assert s.restarts == 2
    s.created()
    s.submit("x")
    s.sendable()
    d = s.process_died("3")
    assert d.restart is False and d.fail == ["x"]
    assert s.state == DEAD and s.death_reason == "3"


def test_unlimited_restarts():
    """max_restarts=-1 restarts forever."""
    s = alive(max_restarts=-1)
    for i in range(50):
        assert s.process_died(str(i)).restart is True
        s.created()
    assert s.restarts == 50 and s.state == ALIVE


def test_no_restart_requested_is_death():
    """process_died(allow_restart=False) ends it even with restarts left."""
    s = alive(max_restarts=5, max_task_retries=5)
    s.submit("a")
    s.sendable()
    d = s.process_died("killed", allow_restart=False)
    assert d.restart is False and d.retry == [] and d.fail == ["a"]
    assert s.state == DEAD and s.restarts == 0


def test_death_after_death_decides_nothing():
    """A second death event for a dead actor fails and restarts nothing."""
    s = alive(max_restarts=5)
    s.killed("kill()")
    d = s.process_died("exit code 1")
    assert d.restart is False and d.retry == [] and d.fail == []
    assert s.death_reason == "kill()"
    assert s.killed("again") == []


def test_crash_while_restarting():
    """A crash during a restart (before created) still follows the restart budget and keeps calls."""
    s = alive(max_restarts=2, max_task_retries=0)
    s.submit("a")
    s.process_died("1")  # "a" was never sent: it stays queued
    d = s.process_died("2")  # the new process died before it was up
    assert d.restart is True and d.fail == []
    s.created()
    assert s.sendable() == ["a"]
    assert s.process_died("3").restart is False
    assert s.state == DEAD
