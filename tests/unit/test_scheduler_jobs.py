"""Scheduler: jobs (attached drivers) share the node; none starves another's queue."""

from greenroom.scheduler.queue import Scheduler
from greenroom.scheduler.resources import ResourceSet

CPU1 = ResourceSet.from_dict({"CPU": 1})


def granted(sched):
    return [g.key for g in sched.schedule().grants]


def test_one_job_stays_fifo():
    sched = Scheduler(ResourceSet.from_dict({"CPU": 2}))
    for key in "abcd":
        sched.submit(key, CPU1, job=0)
    assert granted(sched) == ["a", "b"]


def test_a_later_job_gets_the_next_free_slot_before_an_earlier_jobs_backlog():
    sched = Scheduler(ResourceSet.from_dict({"CPU": 2}))
    for i in range(100):
        sched.submit(("a", i), CPU1, job=1)
    assert granted(sched) == [("a", 0), ("a", 1)]
    sched.submit(("b", 0), CPU1, job=2)
    sched.submit(("b", 1), CPU1, job=2)
    assert granted(sched) == []  # nothing is free
    sched.release(("a", 0))
    assert granted(sched) == [("b", 0)]  # job 2 runs nothing, job 1 runs one
    sched.release(("a", 1))
    assert granted(sched) == [("a", 2)]  # one each now
    sched.release(("b", 0))
    assert granted(sched) == [("b", 1)]


def test_one_slot_alternates_between_jobs():
    sched = Scheduler(ResourceSet.from_dict({"CPU": 1}))
    for i in range(5):
        sched.submit(("a", i), CPU1, job=1)
    for i in range(5):
        sched.submit(("b", i), CPU1, job=2)
    order = []
    for _ in range(6):
        [key] = granted(sched)
        order.append(key)
        sched.release(key)
    assert [k[0] for k in order] == ["a", "b", "a", "b", "a", "b"]


def test_slots_split_evenly_between_jobs_with_backlogs():
    sched = Scheduler(ResourceSet.from_dict({"CPU": 4}))
    for i in range(10):
        sched.submit(("a", i), CPU1, job=1)
    for i in range(10):
        sched.submit(("b", i), CPU1, job=2)
    keys = granted(sched)
    assert sorted(k[0] for k in keys) == ["a", "a", "b", "b"]


def test_no_follower_while_another_job_waits():
    sched = Scheduler(ResourceSet.from_dict({"CPU": 1}))
    sched.submit("a0", CPU1, job=1)
    sched.submit("a1", CPU1, job=1)
    assert granted(sched) == ["a0"]
    assert sched.take_follower("a0") == "a1"  # alone, a job pipelines as before
    sched.recall("a1")
    sched.submit("b0", CPU1, job=2)
    assert sched.take_follower("a0") is None
    sched.release("a0")
    assert granted(sched) == ["b0"]
