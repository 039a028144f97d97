"""Shared fixtures: a fresh greenroom per test, and a leak check per module."""

from __future__ import annotations

import glob
import os
import stat
import threading
import time

import psutil
import pytest

import greenroom


def _leaks() -> list[str]:
    found = []
    for child in psutil.Process().children(recursive=True):
        try:
            if child.status() != psutil.STATUS_ZOMBIE:
                found.append(f"process {child.pid}: {' '.join(child.cmdline())[:120]}")
        except psutil.NoSuchProcess:
            pass
    found += [f"shared memory {p}" for p in glob.glob("/dev/shm/greenroom*")]
    found += [
        f"socket file {p}" for p in glob.glob("/tmp/greenroom*") + glob.glob("/tmp/*/greenroom*.sock")
        if _is_socket(p)
    ]
    found += [f"thread {t.name}" for t in threading.enumerate() if t.name.startswith("greenroom")]
    return found


def _is_socket(path: str) -> bool:
    try:
        return stat.S_ISSOCK(os.lstat(path).st_mode)
    except FileNotFoundError:  # gone since glob() listed it (another test session's, ending)
        return False


@pytest.fixture(autouse=True, scope="module")
def no_leaks():
    """Fail the module if it leaves a worker, socket file, segment or node thread behind."""
    yield
    greenroom.shutdown()
    deadline = time.monotonic() + 10
    leaks = _leaks()
    while leaks and time.monotonic() < deadline:
        time.sleep(0.05)  # polling the OS for processes to be reaped, with a deadline
        leaks = _leaks()
    assert not leaks, f"left behind after the module: {leaks}"


@pytest.fixture
def gr(backend):
    """greenroom started with 2 CPUs and 4 (pretend) GPUs, shut down after the test (on the Ray
    backend: the module's connection to the session's Ray head, see ``backend``)."""
    if backend == "ray":
        yield greenroom
        return
    greenroom.init(num_cpus=2, num_gpus=4)
    yield greenroom
    greenroom.shutdown()


@pytest.fixture
def gr_cpu4():
    greenroom.init(num_cpus=4, num_gpus=0)
    yield greenroom
    greenroom.shutdown()


# -- the Ray backend ------------------------------------------------------------------------------
# One private Ray head per test session (tests/ray_cluster.py), started on first use by a test
# marked ray_backend. `ray start` leaves its daemons to the init process, so they are not children
# of this process and the leak check above does not see them; the head is ended by its own pids at
# the end of the session, its temp dir removed.


@pytest.fixture(scope="session")
def ray_head():
    """A real Ray head on 127.0.0.1 (2 CPUs, 2 GPUs); skipped where Ray is not installed."""
    pytest.importorskip("ray", reason="the Ray backend needs the extra: pip install 'greenroom[ray]'")
    import ray_cluster

    here = os.path.dirname(os.path.abspath(__file__))
    # Ray workers import the test modules by name (pytest's rootdir-relative import mode), as a
    # cluster's workers import a program's modules from their own sys.path.
    head = ray_cluster.start(extra_path=[here, os.path.join(here, "integration")])
    yield head
    greenroom.shutdown()
    ray_cluster.stop(head)


@pytest.fixture(scope="module")
def on_ray(ray_head):
    """greenroom connected to the session's Ray head for one module, disconnected after it."""
    greenroom.shutdown()
    greenroom.init(address="ray:" + ray_head.gcs_address)
    yield greenroom
    greenroom.shutdown()


# -- the same tests on the Ray backend --------------------------------------------------------------
# The core, actor and tune integration modules run a second time against the session's Ray head:
# their tests that take `gr` (or, in test_tune, the `started` fixture) get the `backend` parameter,
# "local" and "ray" (marked ray_backend: `-m ray_backend` selects them, `-m "not ray_backend"` leaves
# them out). `backend` is module-scoped, so pytest runs a module's "ray" tests together on one
# connection. Tests that check what only greenroom's own node does are listed in NOT_ON_RAY, each
# with the reason.

ON_RAY = {"test_tasks.py", "test_actors.py", "test_tune.py"}

_POOL = "the worker pool is greenroom's own (Ray starts and reuses its workers its own way)"
NOT_ON_RAY = {
    "test_tasks.py::test_worker_reuse": _POOL,
    "test_tasks.py::test_max_calls_recycles_worker": _POOL,
    "test_tasks.py::test_output_reaches_driver_with_pid": (
        "Ray forwards worker output with its own prefix, (name pid=N), and later"
    ),
    "test_tasks.py::test_get_of_unknown_ref_fails_fast": (
        "a ref made from raw bytes is the local node's kind; the Ray backend refuses it as foreign"
    ),
    "test_tasks.py::test_unknown_ref_among_others_fails_fast": (
        "a ref made from raw bytes is the local node's kind; the Ray backend refuses it as foreign"
    ),
    "test_actors.py::test_async_actor_awaits_another_actor": (
        "Ray does not keep the order of the calls an async actor makes from concurrent calls"
    ),
}


def pytest_generate_tests(metafunc):
    if "backend" in metafunc.fixturenames and metafunc.definition.path.name in ON_RAY:
        ray = pytest.param("ray", marks=pytest.mark.ray_backend)
        metafunc.parametrize("backend", ["local", ray], indirect=True, scope="module")


def _on_ray(item) -> bool:
    params = getattr(item, "callspec", None)
    return params is not None and params.params.get("backend") == "ray"


@pytest.hookimpl(trylast=True)  # after pytest has grouped the tests by the module-scoped parameter
def pytest_collection_modifyitems(config, items):
    for item in items:
        if _on_ray(item):
            reason = NOT_ON_RAY.get(f"{item.path.name}::{item.originalname}")
            if reason is not None:
                item.add_marker(pytest.mark.skip(reason=f"not on the Ray backend: {reason}"))
    # A module's [ray] tests run last in it, so its tests without a backend (which start and stop
    # greenroom themselves) never run while the module's Ray connection is open.
    ordered, start = [], 0
    while start < len(items):
        end = start
        while end < len(items) and items[end].path == items[start].path:
            end += 1
        group = items[start:end]
        ordered += [i for i in group if not _on_ray(i)] + [i for i in group if _on_ray(i)]
        start = end
    items[:] = ordered


@pytest.fixture(scope="module")
def backend(request):
    """"local" (greenroom's own node, started per test by `gr`), or "ray": greenroom connected to
    the session's Ray head for the module's Ray tests (see ON_RAY)."""
    if getattr(request, "param", "local") == "local":
        yield "local"
        return
    head = request.getfixturevalue("ray_head")
    greenroom.shutdown()
    greenroom.init(address="ray:" + head.gcs_address)
    yield "ray"
    greenroom.shutdown()
