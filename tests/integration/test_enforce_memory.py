"""memory= watched, and the node-wide memory guard, through the public API with real workers.

A "hog" writes its pid, takes more memory than it asked for, then waits to be
killed (with a deadline: a hog that is never killed fails the test with a
TimeoutError instead of OutOfMemoryError).
"""

from __future__ import annotations

import os
from pathlib import Path

import psutil
import pytest

import greenroom
from greenroom.exceptions import ActorDiedError, OutOfMemoryError
from helpers import wait_for

pytestmark = pytest.mark.timeout(60)

MB = 1 << 20
LIMIT = 150 * MB


def hog(directory: str, megabytes: int = 400) -> int:
    """Note this attempt, take ``megabytes`` of resident memory, wait to be killed."""
    Path(directory, f"attempt-{len(os.listdir(directory))}-{os.getpid()}").touch()
    held = b"\x01" * (megabytes * MB)  # written, so resident
    wait_for(lambda: False, "greenroom to kill this memory hog", timeout=20)
    return len(held)


def neighbour(directory: str) -> int:
    """Run beside the hog until its process is gone, then finish normally."""
    wait_for(lambda: os.listdir(directory), "the hog to start")
    pid = int(os.listdir(directory)[0].rsplit("-", 1)[1])
    wait_for(lambda: not psutil.pid_exists(pid), "the hog's process to end")
    return 42


def outlive(refs: list) -> int:
    """Run until the task behind ``refs[0]`` has ended (the ref arrives as a ref: it is nested)."""
    greenroom.wait(refs, timeout=20)
    return 42


remote_hog = greenroom.remote(num_cpus=1, memory=LIMIT, max_retries=0)(hog)
remote_neighbour = greenroom.remote(num_cpus=1)(neighbour)


@greenroom.remote(memory=LIMIT)
class Holder:
    def __init__(self):
        self.held = []

    def take(self, megabytes):
        self.held.append(b"\x01" * (megabytes * MB))
        wait_for(lambda: False, "greenroom to kill this actor", timeout=20)

    def limits(self):
        return greenroom.get_runtime_context().get_resource_limits()


def attempts(directory: Path) -> list[int]:
    return [int(name.rsplit("-", 1)[1]) for name in sorted(os.listdir(directory))]


def test_task_over_its_memory_gets_out_of_memory_error_and_its_neighbour_finishes(gr, tmp_path):
    """The hog fails with OutOfMemoryError naming it, its pid, its size and limit, and what to change;
    the task beside it finishes; the node keeps working with all its CPUs."""
    other = remote_neighbour.remote(str(tmp_path))
    with pytest.raises(OutOfMemoryError) as caught:
        greenroom.get(remote_hog.remote(str(tmp_path)))
    [pid] = attempts(tmp_path)
    message = str(caught.value)
    for part in ("task 'hog'", f"pid={pid}", "resident memory", f"memory={LIMIT}", "150.0 MiB", "_enforce"):
        assert part in message, (part, message)
    assert greenroom.get(other, timeout=20) == 42
    assert greenroom.get(greenroom.remote(lambda: "still here").remote()) == "still here"
    wait_for(lambda: greenroom.available_resources()["CPU"] == 2.0, "both CPUs to be free again")


def test_memory_kills_are_retried_up_to_max_retries(gr, tmp_path):
    """max_retries=1: the hog runs twice, each time in a new process, then fails."""
    with pytest.raises(OutOfMemoryError, match="max_retries=1"):
        greenroom.get(remote_hog.options(max_retries=1).remote(str(tmp_path)))
    pids = attempts(tmp_path)
    assert len(pids) == 2 and pids[0] != pids[1]


def test_task_within_its_limit_runs_and_sees_it(gr):
    """A task that stays under memory= finishes; its limit is in get_resource_limits()."""

    @greenroom.remote(memory=LIMIT)
    def modest():
        held = b"\x01" * (10 * MB)
        return len(held), greenroom.get_runtime_context().get_resource_limits()["memory"]

    assert greenroom.get(modest.remote()) == (10 * MB, LIMIT)


def test_actor_over_its_memory_fails_its_call_and_dies_saying_why(gr):
    """The call that grew it fails with OutOfMemoryError; the dead actor's later calls say it ran out."""
    holder = Holder.remote()
    assert greenroom.get(holder.limits.remote())["memory"] == LIMIT
    with pytest.raises(OutOfMemoryError, match="actor Holder"):
        greenroom.get(holder.take.remote(400))
    with pytest.raises(ActorDiedError, match="ran out of memory"):
        greenroom.get(holder.limits.remote())


def test_limit_off_per_task():
    """_enforce={'memory': False} lets a task pass its memory= (it is then only counted, as in Ray)."""
    greenroom.init(num_cpus=2)
    try:

        @greenroom.remote(memory=LIMIT, _enforce={"memory": False})
        def unwatched():
            held = b"\x01" * (300 * MB)
            return len(held), greenroom.get_runtime_context().get_resource_limits()["memory"]

        assert greenroom.get(unwatched.remote()) == (300 * MB, None)
    finally:
        greenroom.shutdown()


def test_node_wide_guard_kills_watched_work_and_spares_exempt_work(tmp_path):
    """With the machine 'over' a tiny threshold, running work is killed with OutOfMemoryError naming
    the machine's memory and the threshold; work exempt from it finishes."""
    greenroom.init(num_cpus=2, _memory_usage_threshold=0.0001)
    try:
        victim = greenroom.remote(num_cpus=1, max_retries=0)(hog).remote(str(tmp_path), 1)
        exempt = greenroom.remote(num_cpus=1, _enforce={"memory": False})(outlive).remote([victim])
        with pytest.raises(OutOfMemoryError) as caught:
            greenroom.get(victim)
        message = str(caught.value)
        for part in ("task 'hog'", "machine's memory", "threshold of 0.01%", "_memory_usage_threshold"):
            assert part in message, (part, message)
        assert greenroom.get(exempt, timeout=20) == 42
    finally:
        greenroom.shutdown()


@pytest.mark.parametrize("kwargs", [{"_enforce": {"memory": False}}, {"_memory_monitor_refresh_ms": 0}])
def test_memory_enforcement_off_globally(kwargs):
    """init(_enforce={'memory': False}) or a monitor period of 0: no limit, no guard."""
    greenroom.init(num_cpus=2, _memory_usage_threshold=0.0001, **kwargs)
    try:

        @greenroom.remote(memory=LIMIT)
        def unwatched():
            held = b"\x01" * (200 * MB)
            return len(held), greenroom.get_runtime_context().get_resource_limits()["memory"]

        assert greenroom.get(unwatched.remote()) == (200 * MB, None)
    finally:
        greenroom.shutdown()
