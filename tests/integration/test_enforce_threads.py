"""Thread pools sized to a task's CPUs, through the public API with real workers.

Inside each task, threadpoolctl's own report (``threadpool_info()``) says how
many threads each loaded native library (numpy's OpenBLAS here) will use.
"""

from __future__ import annotations

import os

import pytest

import greenroom

pytestmark = pytest.mark.timeout(60)


def pools():
    """(OMP_NUM_THREADS, {library: threads} from threadpoolctl, the limits the task reports)."""
    import numpy  # noqa: F401 - loads OpenBLAS, if this worker had not yet
    import threadpoolctl

    report = {info["internal_api"]: info["num_threads"] for info in threadpoolctl.threadpool_info()}
    return os.environ.get("OMP_NUM_THREADS"), report, greenroom.get_runtime_context().get_resource_limits()


remote_pools = greenroom.remote(pools)


@greenroom.remote
class Pools:
    def report(self):
        return pools()


def test_pools_follow_num_cpus_on_reused_workers(gr):
    """1, 2 and 0.5 CPUs give 1, 2 and 1 threads, in the environment and in pools already loaded."""
    seen = [greenroom.get(remote_pools.options(num_cpus=cpus).remote()) for cpus in (1, 2, 0.5, 2, 1)]
    for (omp, report, limits), threads in zip(seen, (1, 2, 1, 2, 1)):
        assert omp == str(threads)
        assert report["openblas"] == threads, report
        assert limits["threads"] == threads


def test_zero_cpu_tasks_and_actors_get_one_thread_and_actors_their_own(gr):
    """A 0-CPU task or actor gets 1 thread (as Ray); an actor with num_cpus=2 gets 2 for its life."""
    omp, report, _ = greenroom.get(remote_pools.options(num_cpus=0).remote())
    assert (omp, report["openblas"]) == ("1", 1)
    default_actor, two_cpu_actor = Pools.remote(), Pools.options(num_cpus=2).remote()
    assert greenroom.get(default_actor.report.remote())[1]["openblas"] == 1
    assert greenroom.get(two_cpu_actor.report.remote())[1]["openblas"] == 2
    assert greenroom.get(two_cpu_actor.report.remote())[2]["threads"] == 2


def test_torch_threads_follow_num_cpus(gr):
    """torch, imported in a task, uses the task's CPUs for its intra-op pool, and is resized on reuse."""
    pytest.importorskip("torch")

    @greenroom.remote
    def torch_threads():
        import torch

        return torch.get_num_threads()

    assert greenroom.get(torch_threads.options(num_cpus=2).remote()) == 2
    assert greenroom.get(torch_threads.options(num_cpus=1).remote()) == 1
    assert greenroom.get(torch_threads.options(num_cpus=2).remote()) == 2


def test_the_users_omp_num_threads_wins(monkeypatch):
    """OMP_NUM_THREADS set in the driver's environment is left alone, and nothing is resized: a
    2-CPU task keeps the user's 1 thread."""
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    greenroom.init(num_cpus=2)
    try:
        omp, report, limits = greenroom.get(remote_pools.options(num_cpus=2).remote())
        assert (omp, report["openblas"], limits["threads"]) == ("1", 1, None)
    finally:
        greenroom.shutdown()


def test_threads_off_per_task_and_globally(gr):
    """_enforce={'threads': False} on a task (or on init) leaves its pools at the libraries' default."""
    machine = len(os.sched_getaffinity(0))
    unlimited = remote_pools.options(num_cpus=1, _enforce={"threads": False})
    omp, report, limits = greenroom.get(unlimited.remote())
    assert (omp, report["openblas"], limits["threads"]) == (None, machine, None)
    greenroom.shutdown()
    greenroom.init(num_cpus=2, _enforce={"threads": False})
    omp, report, limits = greenroom.get(remote_pools.options(num_cpus=1).remote())
    assert (omp, report["openblas"], limits["threads"]) == (None, machine, None)


@pytest.mark.parametrize(
    "options, error, text",
    [
        ({"_enforce": "no"}, TypeError, "expected True, False or a dict"),
        ({"_enforce": {"cpu": False}}, ValueError, "unknown kind 'cpu'"),
    ],
)
def test_bad_enforce_option_raises_at_decoration(options, error, text):
    """_enforce is checked at decoration and .options(), for tasks and actors."""
    with pytest.raises(error, match=text):
        greenroom.remote(**options)(pools)
    with pytest.raises(error, match=text):
        Pools.options(**options)


@pytest.mark.parametrize(
    "kwargs, error, text",
    [
        ({"cpu_affinity": "yes"}, TypeError, "cpu_affinity='yes'"),
        ({"_enforce": {"cpu_affinity": True}}, ValueError, "init\\(cpu_affinity=True/False\\)"),
        ({"_memory_usage_threshold": 1.5}, ValueError, "expected a fraction in \\(0, 1\\]"),
        ({"_memory_monitor_refresh_ms": -1}, ValueError, "0 turns it off"),
    ],
)
def test_bad_init_enforcement_arguments(kwargs, error, text):
    """init() checks its enforcement arguments before starting anything."""
    with pytest.raises(error, match=text):
        greenroom.init(num_cpus=1, **kwargs)
    assert not greenroom.is_initialized()
