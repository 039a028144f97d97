"""Failure at every stage of a call's trip, crashes, retries and cancellation.

After each failure the runtime keeps working: the next task succeeds and
every CPU and GPU is free again (see ``assert_recovered``).
"""

from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import sys
import textwrap
import threading

import psutil
import pytest

import greenroom as ray
from greenroom.exceptions import (
    RaySystemError,
    RayTaskError,
    TaskCancelledError,
    WorkerCrashedError,
)
from helpers import wait_for
from signal_helper import Signal, StartedFlag


@ray.remote
def ok():
    return "fine"


def assert_recovered():
    assert ray.get(ok.remote(), timeout=30) == "fine"
    # A CPU task's resources are released before its result is stored, but a GPU task's worker
    # retires after it (max_calls=1) and its grant is held until the process is gone (its GPU
    # memory goes with it): wait for that, with a deadline.
    wait_for(lambda: ray.available_resources().get("CPU") == 2.0, "the CPUs to come back")
    wait_for(lambda: ray.available_resources().get("GPU") == 4.0, "the GPUs to come back")


class FailsToUnpickle:
    """Pickles fine; unpickling raises (in whichever process loads it)."""

    def __reduce__(self):
        return (_explode, ("unpickle failure",))


def _explode(msg):
    raise RuntimeError(msg)


class FailsToUnpickleInDriver:
    """Unpickles in a worker, fails to unpickle in the driver (pid check)."""

    def __init__(self, driver_pid):
        self.driver_pid = driver_pid

    def __reduce__(self):
        return (_load_unless_pid, (self.driver_pid,))


def _load_unless_pid(driver_pid):
    if os.getpid() == driver_pid:
        raise RuntimeError("cannot load here")
    return FailsToUnpickleInDriver(driver_pid)


def _segfault():
    ctypes.string_at(0)


def body_raise():
    raise KeyError("missing")


def body_exit():
    sys.exit(3)


def body_os_exit():
    os._exit(7)


def body_sigkill():
    os.kill(os.getpid(), signal.SIGKILL)


def return_unpicklable():
    return threading.Lock()


CRASH_CASES = [
    # (what the task does, exception type, message pattern)
    (body_raise, KeyError, "missing"),
    (body_exit, WorkerCrashedError, "exit code 3"),
    (body_os_exit, WorkerCrashedError, "exit code 7"),
    (body_sigkill, WorkerCrashedError, "SIGKILL"),
    (_segfault, WorkerCrashedError, "SIGSEGV"),
    (return_unpicklable, TypeError, "cannot be pickled"),
]


@pytest.mark.parametrize("body,exc,pattern", CRASH_CASES, ids=[c[0].__name__ for c in CRASH_CASES])
def test_failure_in_worker(gr, body, exc, pattern):
    """Each way a task can fail in its worker gives its own error, and the runtime recovers."""
    task = ray.remote(max_retries=0)(body)
    with pytest.raises(exc, match=pattern):
        ray.get(task.remote(), timeout=30)
    assert_recovered()


def test_task_error_is_both_types_with_traceback(gr):
    """A remote exception is a RayTaskError and the original type, with the remote traceback."""
    with pytest.raises(RayTaskError) as info:
        ray.get(ray.remote(body_raise).remote())
    err = info.value
    assert isinstance(err, KeyError)
    assert "body_raise" in str(err) and "Traceback" in str(err)
    assert err.cause.args == ("missing",)


def test_unpicklable_argument_raises_at_caller(gr):
    """An argument that can't be pickled raises TypeError at .remote(), naming it."""
    with pytest.raises(TypeError, match="argument 1 of task 'identity'"):
        ray.remote(lambda *a: a).options(name="identity").remote(1, threading.Lock())
    with pytest.raises(TypeError, match="keyword argument 'lock'"):
        ok.remote(lock=threading.Lock())
    assert_recovered()


def test_argument_fails_to_unpickle_in_worker(gr):
    """An argument that can't be unpickled in the worker gives RaySystemError at get()."""
    f = ray.remote(lambda x: x)
    with pytest.raises(RaySystemError, match="could not unpickle"):
        ray.get(f.remote(FailsToUnpickle()), timeout=30)
    assert_recovered()


def test_result_fails_to_unpickle_in_caller(gr):
    """A result that can't be unpickled in the driver gives RaySystemError naming the task."""

    @ray.remote
    def make(pid):
        return FailsToUnpickleInDriver(pid)

    with pytest.raises(RaySystemError, match="result of task 'test_result_fails_to_unpickle_in_caller.<locals>.make'"):
        ray.get(make.remote(os.getpid()), timeout=30)
    assert_recovered()


def test_unpicklable_put_raises(gr):
    """put() of something unpicklable raises TypeError naming it."""
    with pytest.raises(TypeError, match="put"):
        ray.put(threading.Lock())


def _count_attempt(path):
    with open(path, "a") as f:
        f.write("x")
    with open(path) as f:
        return len(f.read())


def test_crash_is_retried_on_fresh_worker(gr, tmp_path):
    """A crash is retried (max_retries) on a fresh worker and can then succeed."""
    marker = str(tmp_path / "attempts")

    @ray.remote(max_retries=2)
    def flaky(path):
        if _count_attempt(path) < 3:
            os._exit(1)
        return os.getpid()

    assert isinstance(ray.get(flaky.remote(marker), timeout=30), int)
    assert _count_attempt(marker) == 4  # three attempts plus this read


def test_crash_retries_exhausted(gr, tmp_path):
    """After max_retries crashes the error says how many times it was tried."""
    marker = str(tmp_path / "attempts")

    @ray.remote(max_retries=1)
    def always(path):
        _count_attempt(path)
        os._exit(9)

    with pytest.raises(WorkerCrashedError, match="tried 2 time"):
        ray.get(always.remote(marker), timeout=30)
    assert _count_attempt(marker) == 3


def test_application_errors_not_retried_by_default(gr, tmp_path):
    """Exceptions are not retried unless retry_exceptions is set."""
    marker = str(tmp_path / "attempts")

    @ray.remote(max_retries=3)
    def fails(path):
        _count_attempt(path)
        raise ValueError("no")

    with pytest.raises(ValueError):
        ray.get(fails.remote(marker))
    assert _count_attempt(marker) == 2


def test_retry_exceptions(gr, tmp_path):
    """retry_exceptions=True retries; a list retries only those types."""
    marker = str(tmp_path / "a")

    @ray.remote(max_retries=3, retry_exceptions=True)
    def flaky(path):
        if _count_attempt(path) < 3:
            raise ValueError("not yet")
        return "done"

    assert ray.get(flaky.remote(marker)) == "done"

    marker2 = str(tmp_path / "b")

    @ray.remote(max_retries=3, retry_exceptions=[KeyError])
    def wrong_type(path):
        _count_attempt(path)
        raise ValueError("not retried")

    with pytest.raises(ValueError):
        ray.get(wrong_type.remote(marker2))
    assert _count_attempt(marker2) == 2


def test_cancel_queued_task(gr):
    """A queued task that is cancelled never runs; get() raises TaskCancelledError."""
    sig = Signal()
    blockers = [ray.remote(lambda r: ray.get(r[0])).options(num_gpus=4).remote([sig.ref])]
    queued = ray.remote(lambda: "ran").options(num_gpus=4).remote()
    ray.cancel(queued)
    with pytest.raises(TaskCancelledError):
        ray.get(queued, timeout=30)
    sig.send()
    ray.get(blockers, timeout=30)
    assert_recovered()


def test_cancel_running_task(gr, tmp_path):
    """cancel() interrupts a running task; force=True kills its worker. Both raise TaskCancelledError."""

    @ray.remote(max_retries=0)
    def spin(flag, never):
        flag.set()
        return ray.get(never[0])

    for force in (False, True):
        flag = StartedFlag(tmp_path)
        ref = spin.remote(flag, [Signal().ref])
        flag.wait()
        flag.close()
        ray.cancel(ref, force=force)
        with pytest.raises(TaskCancelledError):
            ray.get(ref, timeout=30)
    assert_recovered()


DRIVER = textwrap.dedent(
    """
    import os, sys
    import greenroom as ray
    ray.init(num_cpus=2)

    @ray.remote
    def pid():
        return os.getpid()

    print(ray.get([pid.remote() for _ in range(4)]), flush=True)
    sys.stdin.read()  # wait to be killed
    """
)


def test_sigkill_of_driver_leaves_no_process(tmp_path):
    """A SIGKILLed driver takes its zygote and workers with it."""
    script = tmp_path / "driver.py"
    script.write_text(DRIVER)
    proc = subprocess.Popen(
        [sys.executable, str(script)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        proc.stdout.readline()
        family = psutil.Process(proc.pid).children(recursive=True)
        assert family, "the driver started no processes"
        proc.kill()
        proc.wait(timeout=10)
        gone, alive = psutil.wait_procs(family, timeout=10)
        assert not alive, f"left running after the driver died: {alive}"
    finally:
        proc.kill()
        proc.stdin.close()
        proc.stdout.close()


def test_zygote_death_fails_fast_instead_of_hanging():
    """If the zygote dies, waiting tasks fail with RaySystemError and new work is refused."""
    ray.init(num_cpus=2)
    try:
        f = ray.remote(lambda x: x)
        assert ray.get(f.remote(1)) == 1
        from greenroom.runtime import state

        zygote = state.runtime().node.pool.zygote
        sig = Signal()
        waiting = f.remote(sig.ref)
        os.kill(zygote.pid, signal.SIGKILL)
        with pytest.raises(RaySystemError, match="zygote"):
            ray.get(waiting, timeout=30)
        with pytest.raises(RaySystemError, match="init"):
            f.remote(2)
    finally:
        ray.shutdown()


def test_internal_error_fails_the_call_instead_of_hanging(capfd):
    """If greenroom itself fails handling a result, get() raises RaySystemError with the cause."""
    ray.init(num_cpus=1)
    try:
        from greenroom.runtime import state

        node = state.runtime().node

        def broken(*args):
            raise RuntimeError("injected bug")

        node.tasks.on_done = broken
        with pytest.raises(RaySystemError, match="injected bug"):
            ray.get(ray.remote(lambda: 1).remote(), timeout=30)
        assert "internal error" in capfd.readouterr().err
    finally:
        ray.shutdown()
