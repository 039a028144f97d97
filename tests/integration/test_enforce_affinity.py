"""CPU pinning (init(cpu_affinity=True)) through the public API with real workers.

Tasks that must run at the same time meet at a file barrier in ``tmp_path``.
A task reports its cores three ways: ``get_cpu_ids()``, the runtime context's
limits, and the kernel's affinity mask of every thread of its process.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

import greenroom
from helpers import wait_for

pytestmark = pytest.mark.timeout(60)

MACHINE = sorted(os.sched_getaffinity(0))


def barrier(directory: str, parties: int) -> None:
    Path(directory, str(os.getpid())).touch()
    wait_for(lambda: len(os.listdir(directory)) >= parties, f"{parties} tasks at the barrier")


def cores(directory: str | None = None, parties: int = 0):
    """(get_cpu_ids(), the limits' cpu_ids, every thread's affinity mask) inside a task."""
    import numpy  # noqa: F401 - OpenBLAS starts its threads: they must be pinned too

    if directory:
        barrier(directory, parties)
    masks = {tuple(sorted(os.sched_getaffinity(int(tid)))) for tid in os.listdir("/proc/self/task")}
    return greenroom.get_cpu_ids(), greenroom.get_runtime_context().get_resource_limits()["cpu_ids"], masks


remote_cores = greenroom.remote(cores)


@greenroom.remote(num_cpus=1)
class Pinned:
    def cores(self):
        return cores()


@pytest.fixture
def pinned():
    greenroom.init(num_cpus=len(MACHINE), cpu_affinity=True)
    yield greenroom
    greenroom.shutdown()


@pytest.mark.skipif(len(MACHINE) < 2, reason="needs 2 cores to give two tasks one each")
def test_whole_cpu_tasks_run_on_distinct_cores_with_every_thread_pinned(pinned, tmp_path):
    """Two 1-CPU tasks running at once: one core each, the same core in every view, all threads."""
    a, b = greenroom.get([remote_cores.remote(str(tmp_path), 2) for _ in range(2)])
    for ids, limit, masks in (a, b):
        assert len(ids) == 1 and ids == limit and masks == {tuple(ids)}
        assert ids[0] in MACHINE
    assert a[0] != b[0]


def test_fractional_tasks_share_one_core(pinned, tmp_path):
    """Two 0.5-CPU tasks running at once pack onto the same core."""
    half = remote_cores.options(num_cpus=0.5)
    a, b = greenroom.get([half.remote(str(tmp_path), 2) for _ in range(2)])
    assert a[0] == b[0] and len(a[0]) == 1 and a[2] == {tuple(a[0])}


def test_a_reused_worker_is_unpinned_for_work_without_cores(pinned):
    """After a pinned task, a 0-CPU task (or one that opted out) runs on every core again."""
    assert len(greenroom.get(remote_cores.remote())[0]) == 1
    for options in ({"num_cpus": 0}, {"_enforce": {"cpu_affinity": False}}):
        ids, limit, masks = greenroom.get(remote_cores.options(**options).remote())
        assert (ids, limit, masks) == ([], None, {tuple(MACHINE)})


def test_an_actor_keeps_its_core_for_life(pinned):
    actor = Pinned.remote()
    first = greenroom.get(actor.cores.remote())
    assert len(first[0]) == 1 and first[2] == {tuple(first[0])}
    assert greenroom.get(actor.cores.remote()) == first


def test_without_cpu_affinity_nothing_is_pinned(gr):
    ids, limit, masks = greenroom.get(remote_cores.remote())
    assert (ids, limit, masks) == ([], None, {tuple(MACHINE)})
