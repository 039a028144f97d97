"""find_deadlock: blocked tasks waiting on work that can never run."""

from greenroom.scheduler.deadlock import BlockedTask, find_deadlock
from greenroom.scheduler.resources import ResourceSet


def rs(**amounts):
    return ResourceSet.from_dict(amounts)


def test_gpu_task_waiting_on_gpu_task_on_full_node():
    """A 1-GPU parent waiting on a queued 1-GPU child on a 1-GPU node is stuck."""
    blocked = {"parent": BlockedTask(held=rs(GPU=1), waits_on=frozenset({"child"}))}
    queued = {"child": rs(CPU=1, GPU=1)}
    capacity = rs(CPU=4)  # total CPU=4, GPU=1 minus the parent's GPU
    assert find_deadlock(blocked, queued, capacity) == ["parent"]


def test_cpu_only_nesting_is_not_a_deadlock():
    """CPU is lent back while blocked, so nested CPU tasks always progress."""
    blocked = {"outer": BlockedTask(held=ResourceSet(), waits_on=frozenset({"inner"}))}
    queued = {"inner": rs(CPU=1)}
    assert find_deadlock(blocked, queued, rs(CPU=1)) == []


def test_chain_across_two_blocked_tasks():
    """a waits on b, b on a queued GPU task that only a's GPU could serve."""
    blocked = {
        "a": BlockedTask(held=rs(GPU=1), waits_on=frozenset({"b"})),
        "b": BlockedTask(held=ResourceSet(), waits_on=frozenset({"c"})),
    }
    queued = {"c": rs(GPU=1)}
    assert find_deadlock(blocked, queued, rs(CPU=2)) == ["a", "b"]
    # With a second GPU free, c runs, then b, then a.
    assert find_deadlock(blocked, queued, rs(CPU=2, GPU=1)) == []


def test_resources_freed_by_progress_unblock_others():
    """When one blocked task can finish, its held GPU lets another's child run."""
    blocked = {
        "x": BlockedTask(held=rs(GPU=1), waits_on=frozenset({"cpu_child"})),
        "y": BlockedTask(held=rs(tpu=1), waits_on=frozenset({"gpu_child"})),
    }
    queued = {"cpu_child": rs(CPU=1), "gpu_child": rs(GPU=1)}
    assert find_deadlock(blocked, queued, rs(CPU=1)) == []


def test_wait_on_unknown_or_running_task_counts_as_progress():
    """A wait on something neither queued nor blocked is assumed to finish."""
    blocked = {"a": BlockedTask(held=rs(GPU=1), waits_on=frozenset({"running"}))}
    assert find_deadlock(blocked, {}, ResourceSet()) == []


def test_mutual_wait_between_blocked_tasks():
    """Two blocked tasks waiting on each other never progress."""
    blocked = {
        "p": BlockedTask(held=ResourceSet(), waits_on=frozenset({"q"})),
        "q": BlockedTask(held=ResourceSet(), waits_on=frozenset({"p"})),
    }
    assert find_deadlock(blocked, {}, rs(CPU=8)) == ["p", "q"]


def test_many_queued_tasks_of_one_shape():
    """Thousands of queued tasks of one request are checked as one shape."""
    queued = {i: rs(GPU=1) for i in range(5_000)}
    blocked = {"b": BlockedTask(held=rs(GPU=1), waits_on=frozenset(range(5_000)))}
    assert find_deadlock(blocked, queued, ResourceSet()) == ["b"]
    assert find_deadlock(blocked, queued, rs(GPU=1)) == []
