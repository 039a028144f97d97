"""Scheduler: followers taken behind a running task, handed its allocation, recalled."""

import pytest

from greenroom.scheduler.queue import Scheduler
from greenroom.scheduler.resources import ResourceSet


def rs(**amounts):
    return ResourceSet.from_dict(amounts)


CPU1 = rs(CPU=1)
CPU2 = rs(CPU=2)


def granted(sched):
    return [g.key for g in sched.schedule().grants]


def started(sched, total, *keys):
    for key in keys:
        sched.submit(key, total)
    return granted(sched)


def test_follower_is_the_oldest_queued_task_of_the_same_shape():
    sched = Scheduler(rs(CPU=1, memory=4))
    sched.submit("a", CPU1)
    assert granted(sched) == ["a"]
    sched.submit("big", rs(CPU=1, memory=1))
    for key in "bc":
        sched.submit(key, CPU1)
    assert sched.take_follower("a") == "b"
    assert sched.follower_of("a") == "b"
    assert not sched.is_queued("b") and sched.is_queued("c") and sched.is_queued("big")
    assert sched.take_follower("a") is None, "one follower at a time"


def test_hand_over_moves_the_allocation_without_freeing_it():
    sched = Scheduler(rs(CPU=1))
    assert started(sched, CPU1, "a") == ["a"]
    sched.submit("b", CPU1)
    assert sched.take_follower("a") == "b"
    allocation = sched.held("a")
    assert sched.hand_over("a") == "b"
    assert sched.held("b") == allocation and sched.held("a") is None
    assert sched.available == rs(CPU=0)
    sched.release("b")
    assert sched.available == rs(CPU=1)


def test_hand_over_without_follower_releases():
    sched = Scheduler(rs(CPU=1))
    started(sched, CPU1, "a")
    assert sched.hand_over("a") is None
    assert sched.available == rs(CPU=1)


def test_no_follower_of_another_shape_or_when_refused():
    sched = Scheduler(rs(CPU=2))
    started(sched, CPU1, "a")
    sched.submit("wide", CPU2)
    assert sched.take_follower("a") is None
    sched.submit("b", CPU1)
    assert sched.take_follower("a", accept=lambda key: False) is None
    assert sched.is_queued("b")


def test_recall_restores_queue_order():
    sched = Scheduler(rs(CPU=2))
    started(sched, CPU1, "a1", "a2")
    for key in "bcd":
        sched.submit(key, CPU1)
    assert sched.take_follower("a1") == "b"
    assert sched.take_follower("a2") == "c"
    sched.recall("b")
    sched.recall("c")
    sched.release("a1")
    sched.release("a2")
    assert granted(sched) == ["b", "c"]
    assert sched.is_queued("d")


def test_recall_in_reverse_order_keeps_fifo():
    sched = Scheduler(rs(CPU=2))
    started(sched, CPU1, "a1", "a2")
    for key in "bc":
        sched.submit(key, CPU1)
    sched.take_follower("a1")
    sched.take_follower("a2")
    sched.recall("c")
    sched.recall("b")
    sched.release("a1")
    assert granted(sched) == ["b"]


def test_blocking_gives_the_follower_back():
    """A task that blocks in get() lends its CPU, so its follower must be free to run elsewhere."""
    sched = Scheduler(rs(CPU=1))
    started(sched, CPU1, "a")
    sched.submit("b", CPU1)
    sched.take_follower("a")
    sched.block("a")
    assert sched.follower_of("a") is None
    assert granted(sched) == ["b"]
    assert sched.take_follower("a") is None, "a blocked task takes no follower"


def test_release_of_a_leader_requeues_its_follower():
    sched = Scheduler(rs(CPU=1))
    started(sched, CPU1, "a")
    sched.submit("b", CPU1)
    sched.take_follower("a")
    sched.release("a")
    assert sched.is_queued("b")
    assert granted(sched) == ["b"]


def test_drop_follower_forgets_it():
    sched = Scheduler(rs(CPU=1))
    started(sched, CPU1, "a")
    sched.submit("b", CPU1)
    sched.take_follower("a")
    sched.drop_follower("b")
    assert sched.follower_of("a") is None and not sched.is_queued("b")
    assert sched.hand_over("a") is None
    assert sched.available == rs(CPU=1)


def test_follower_key_cannot_be_resubmitted():
    sched = Scheduler(rs(CPU=1))
    started(sched, CPU1, "a")
    sched.submit("b", CPU1)
    sched.take_follower("a")
    with pytest.raises(ValueError, match="already queued or running"):
        sched.submit("b", CPU1)
