"""Scheduler: submission, FIFO per shape, blocking, placement groups."""

import pytest

from greenroom.scheduler.errors import Unschedulable
from greenroom.scheduler.pool import ResourcePool
from greenroom.scheduler.queue import Decisions, Scheduler
from greenroom.scheduler.resources import UNIT, ResourceSet, parse_resources


def rs(**amounts):
    return ResourceSet.from_dict(amounts)


CPU1 = rs(CPU=1)
CPU2 = rs(CPU=2)


def granted(sched):
    return [g.key for g in sched.schedule().grants]


def test_unschedulable_at_submit():
    """A request above the node's totals raises at once, nothing queued."""
    sched = Scheduler(rs(CPU=4, GPU=1))
    with pytest.raises(Unschedulable, match=r"asks for GPU=2\.0") as info:
        sched.submit("t", parse_resources(num_gpus=2))
    assert isinstance(info.value, ValueError)
    assert sched.queued_count() == 0


def test_fifo_within_shape():
    """Tasks of one shape start in submission order."""
    sched = Scheduler(rs(CPU=2))
    for key in "abcde":
        sched.submit(key, CPU1)
    assert granted(sched) == ["a", "b"]
    sched.release("a")
    assert granted(sched) == ["c"]
    sched.release("b")
    sched.release("c")
    assert granted(sched) == ["d", "e"]


def test_fifo_across_shapes_by_oldest_task():
    """Shapes interleave by submission order when everything fits."""
    sched = Scheduler(rs(CPU=10))
    sched.submit("a1", CPU1)
    sched.submit("b1", CPU2)
    sched.submit("a2", CPU1)
    sched.submit("b2", CPU2)
    assert granted(sched) == ["a1", "b1", "a2", "b2"]


def test_older_task_of_other_shape_goes_first():
    """With room for two, the two oldest tasks run even if of different shapes."""
    sched = Scheduler(rs(CPU=2, foo=2))
    other = rs(CPU=1, foo=1)
    sched.submit("a1", CPU1)
    sched.submit("b1", other)
    sched.submit("a2", CPU1)
    assert granted(sched) == ["a1", "b1"]
    sched.release("b1")
    sched.submit("b2", other)
    assert granted(sched) == ["a2"]


def test_blocked_shape_does_not_block_other_shapes():
    """A shape that cannot fit now lets later, smaller shapes run."""
    sched = Scheduler(rs(CPU=4, GPU=1))
    sched.submit("gpu1", parse_resources(num_gpus=1))
    sched.submit("gpu2", parse_resources(num_gpus=1))
    sched.submit("cpu", CPU1)
    assert granted(sched) == ["gpu1", "cpu"]
    assert sched.is_queued("gpu2")


def test_schedule_work_is_per_shape_not_per_task(monkeypatch):
    """10,000 queued tasks of one shape cost one failed attempt per schedule()."""
    attempts = []
    original = ResourcePool.try_acquire

    def counting(self, request):
        attempts.append(request)
        return original(self, request)

    monkeypatch.setattr(ResourcePool, "try_acquire", counting)
    sched = Scheduler(rs(CPU=4))
    for i in range(10_000):
        sched.submit(i, CPU1)
    sched.submit("small", rs(CPU=0.5))
    assert granted(sched) == [0, 1, 2, 3]
    assert len(attempts) == 4 + 1 + 1  # 4 grants, CPU1 fails, "small" fails
    attempts.clear()
    assert granted(sched) == []
    assert len(attempts) == 2  # one per shape, not one per queued task
    attempts.clear()
    sched.release(0)
    assert granted(sched) == [4]
    assert len(attempts) == 3


def test_ten_thousand_tasks_drain_in_order():
    """All 10,000 tasks of one shape run, in order, 4 at a time."""
    sched = Scheduler(rs(CPU=4))
    for i in range(10_000):
        sched.submit(i, CPU1)
    order = []
    while sched.queued_count():
        keys = granted(sched)
        order.extend(keys)
        for key in keys:
            sched.release(key)
    assert order == list(range(10_000))
    assert sched.available == sched.total


def test_cancel_queued_and_not_queued():
    """cancel removes a queued task; False for running or unknown keys."""
    sched = Scheduler(rs(CPU=1))
    for key in "abc":
        sched.submit(key, CPU1)
    assert granted(sched) == ["a"]
    assert sched.cancel("b") is True
    assert sched.cancel("b") is False
    assert sched.cancel("a") is False
    assert not sched.is_queued("b") and sched.queued_count() == 1
    sched.release("a")
    assert granted(sched) == ["c"]


def test_cancel_many_then_resubmit_same_key():
    """Mass cancellation compacts the queue; a key can be submitted again."""
    sched = Scheduler(rs(CPU=1))
    sched.submit("run", CPU1)
    granted(sched)
    for i in range(1_000):
        sched.submit(i, CPU1)
    for i in range(999):
        assert sched.cancel(i)
    sched.submit(5, CPU1)
    sched.release("run")
    assert granted(sched) == [999]
    sched.release(999)
    assert granted(sched) == [5]


def test_duplicate_key_rejected():
    """A key already queued or running cannot be submitted again."""
    sched = Scheduler(rs(CPU=1))
    sched.submit("a", CPU1)
    with pytest.raises(ValueError, match="already queued or running"):
        sched.submit("a", CPU1)


def test_grant_holds_gpu_ids_and_release_frees():
    """held() reports the allocation; release returns it; unknown release raises."""
    sched = Scheduler(rs(CPU=4, GPU=2))
    sched.submit("a", parse_resources(num_gpus=0.5))
    sched.submit("b", parse_resources(num_gpus=0.5))
    sched.submit("c", parse_resources(num_gpus=1))
    decisions = sched.schedule()
    assert isinstance(decisions, Decisions)
    assert {g.key: g.allocation.gpu_ids for g in decisions.grants} == {"a": [0], "b": [0], "c": [1]}
    assert sched.held("a").gpus == ((0, UNIT // 2),)
    assert sched.held("zzz") is None
    for key in "abc":
        sched.release(key)
    assert sched.available == sched.total
    with pytest.raises(KeyError):
        sched.release("a")


def test_block_lends_cpu_and_unblock_oversubscribes():
    """A blocked task's CPU runs another task; unblocking may go negative."""
    sched = Scheduler(rs(CPU=1, GPU=1))
    sched.submit("parent", parse_resources(num_cpus=1, num_gpus=1))
    sched.submit("child", CPU1)
    assert granted(sched) == ["parent"]
    sched.block("parent")
    sched.block("parent")  # idempotent
    assert sched.is_blocked("parent")
    assert sched.available == rs(CPU=1)  # CPU lent, GPU kept
    assert granted(sched) == ["child"]
    sched.unblock("parent")
    sched.unblock("parent")
    assert sched.available.get("CPU") == -UNIT
    sched.release("child")
    sched.release("parent")
    assert sched.available == sched.total


def test_release_while_blocked_balances():
    """A task released while still blocked does not double-free its CPU."""
    sched = Scheduler(rs(CPU=2))
    sched.submit("a", CPU1)
    granted(sched)
    sched.block("a")
    sched.release("a")
    assert sched.available == sched.total
    with pytest.raises(KeyError, match="not running"):
        sched.block("a")


# -- placement groups ---------------------------------------------------------


def test_placement_group_pending_then_created():
    """A group is reserved by schedule() before tasks and reported ready."""
    sched = Scheduler(rs(CPU=4, GPU=2))
    sched.create_placement_group("pg", [rs(CPU=1, GPU=1), rs(CPU=1, GPU=0.5)], "PACK")
    sched.submit("t", rs(CPU=2))
    assert sched.placement_group_state("pg") == "PENDING"
    assert sched.bundle_allocations("pg") == []
    decisions = sched.schedule()
    assert decisions.placement_groups_ready == ["pg"]
    assert [g.key for g in decisions.grants] == ["t"]
    assert sched.placement_group_state("pg") == "CREATED"
    assert [a.gpu_ids for a in sched.bundle_allocations("pg")] == [[0], [1]]
    assert sched.available == rs(GPU=0.5)


def test_placement_group_waits_atomically():
    """A group that does not fit yet reserves nothing until it all fits."""
    sched = Scheduler(rs(CPU=4))
    sched.submit("t", rs(CPU=3))
    granted(sched)
    sched.create_placement_group("pg", [rs(CPU=1), rs(CPU=1)], "SPREAD")
    assert sched.schedule().placement_groups_ready == []
    assert sched.available == rs(CPU=1)
    sched.release("t")
    assert sched.schedule().placement_groups_ready == ["pg"]
    assert sched.available == rs(CPU=2)


def test_placement_group_unschedulable():
    """STRICT_SPREAD of two, or bundles too big together, raise at creation."""
    sched = Scheduler(rs(CPU=4))
    with pytest.raises(Unschedulable, match="STRICT_SPREAD"):
        sched.create_placement_group("a", [CPU1, CPU1], "STRICT_SPREAD")
    with pytest.raises(Unschedulable, match="placed together"):
        sched.create_placement_group("b", [CPU2, CPU2, CPU1], "PACK")
    with pytest.raises(ValueError, match="strategy"):
        sched.create_placement_group("c", [CPU1], "BOGUS")
    with pytest.raises(KeyError):
        sched.placement_group_state("a")


def test_tasks_run_inside_their_bundle():
    """Tasks placed in a bundle draw from it, not from the node pool."""
    sched = Scheduler(rs(CPU=4, GPU=1))
    sched.create_placement_group("pg", [rs(CPU=2, GPU=1), rs(CPU=1)], "PACK")
    sched.submit("in0", parse_resources(num_gpus=0.5), placement=("pg", 0))
    sched.submit("in0b", parse_resources(num_gpus=0.5), placement=("pg", 0))
    sched.submit("in0c", parse_resources(num_gpus=0.5), placement=("pg", 0))
    sched.submit("any", CPU1, placement=("pg", -1))
    sched.submit("node", CPU1)
    decisions = sched.schedule()
    by_key = {g.key: g for g in decisions.grants}
    assert set(by_key) == {"in0", "in0b", "any", "node"}
    assert by_key["in0"].placement == ("pg", 0)
    assert by_key["in0"].allocation.gpu_ids == [0]
    assert by_key["any"].placement == ("pg", 1)  # bundle 0's CPU is used up
    assert by_key["node"].placement is None
    assert sched.available == ResourceSet()
    assert sched.is_queued("in0c")


def test_submit_into_group_validation():
    """Unknown group -> Unschedulable; bad index -> ValueError; too big -> Unschedulable."""
    sched = Scheduler(rs(CPU=4, GPU=1))
    sched.create_placement_group("pg", [rs(CPU=1, GPU=0.5), rs(CPU=2)], "PACK")
    with pytest.raises(Unschedulable, match="'nope' does not exist"):
        sched.submit("t", CPU1, placement=("nope", 0))
    with pytest.raises(ValueError, match="has 2 bundle"):
        sched.submit("t", CPU1, placement=("pg", 2))
    with pytest.raises(Unschedulable, match="bundle 0 of placement group 'pg'"):
        sched.submit("t", CPU2, placement=("pg", 0))
    with pytest.raises(Unschedulable, match="bundle 0 of placement group 'pg'"):
        sched.submit("t", parse_resources(num_cpus=0, num_gpus=1), placement=("pg", 0))
    with pytest.raises(Unschedulable, match="fits none of its bundles"):
        sched.submit("t", rs(CPU=3), placement=("pg", -1))
    sched.submit("ok", CPU2, placement=("pg", -1))  # fits bundle 1, group pending
    assert granted(sched) == ["ok"]


def test_remove_group_drops_queued_and_frees():
    """Removal returns queued keys in order and frees unused reservations."""
    sched = Scheduler(rs(CPU=4))
    sched.create_placement_group("pg", [rs(CPU=2)], "PACK")
    sched.schedule()
    for key in ("q1", "q2", "q3"):
        sched.submit(key, CPU2 if key == "q2" else CPU1, placement=("pg", 0))
    sched.submit("q4", CPU1, placement=("pg", 0))
    sched.cancel("q3")
    assert sched.remove_placement_group("pg") == ["q1", "q2", "q4"]
    assert sched.placement_group_state("pg") == "REMOVED"
    assert sched.queued_count() == 0 and sched.available == sched.total
    assert sched.remove_placement_group("pg") == []
    with pytest.raises(Unschedulable, match="was removed"):
        sched.submit("late", CPU1, placement=("pg", 0))


def test_remove_pending_group():
    """A pending group can be removed; it is never reserved."""
    sched = Scheduler(rs(CPU=1))
    sched.submit("t", CPU1)
    granted(sched)
    sched.create_placement_group("pg", [CPU1], "PACK")
    sched.submit("in", CPU1, placement=("pg", 0))
    assert sched.remove_placement_group("pg") == ["in"]
    sched.release("t")
    assert sched.schedule() == Decisions()
    assert sched.available == sched.total


def test_running_task_outlives_removed_group():
    """A running task keeps its share; it returns to the node only at release."""
    sched = Scheduler(rs(CPU=4, GPU=1))
    sched.create_placement_group("pg", [rs(CPU=2, GPU=1)], "PACK")
    sched.schedule()
    sched.submit("r", parse_resources(num_cpus=1, num_gpus=0.5), placement=("pg", 0))
    assert granted(sched) == ["r"]
    sched.block("r")
    sched.remove_placement_group("pg")
    # The unused CPU and half GPU come back now, plus r's lent CPU.
    assert sched.available == rs(CPU=4, GPU=0.5)
    assert sched.pool.gpu_free_units() == {0: UNIT // 2}
    sched.unblock("r")
    assert sched.available == rs(CPU=3, GPU=0.5)
    sched.release("r")
    assert sched.available == sched.total
    assert sched.pool.gpu_free_units() == {0: UNIT}
