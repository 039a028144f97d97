"""Tasks sent to a busy worker ahead of time: each runs once, nested gets and cancel stay right.

Tasks that must wait until the test says so block reading a named pipe (a FIFO)
rather than calling get(), since a get() would itself take back the task sent
ahead. ``Node.sent_ahead`` counts the tasks sent ahead, so each test can check
that it exercised the path it is about.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

import greenroom as ray
from greenroom import exceptions
from greenroom.runtime import state
from tests.integration.signal_helper import StartedFlag

DEADLINE_S = 30.0


def sent_ahead() -> int:
    return state.current().node.tasks.pipeline.sent_ahead


def warm_up(fn, *args) -> None:
    """A few quick runs, so the node knows ``fn`` is short (only short tasks are sent ahead)."""
    ray.get([fn.remote(*args) for _ in range(8)], timeout=DEADLINE_S)


class Gate:
    """A FIFO a task blocks on until the test opens it."""

    def __init__(self, directory: Path, name: str) -> None:
        self.path = str(directory / name)
        os.mkfifo(self.path)

    def open(self) -> None:
        with open(self.path, "w") as f:  # blocks until the task has it open for reading
            f.write("go")


@ray.remote
def step(i: int, log_dir: str, nested: bool) -> int:
    with open(os.path.join(log_dir, str(i)), "x"):  # "x": a second run of the same i fails
        pass
    if nested:
        return ray.get(step.remote(i + 1000, log_dir, False)) - 1000
    return i


@ray.remote
def work(gate: str | None, started: StartedFlag | None, marker: str | None) -> str:
    if started is not None:
        started.set()
    if gate is not None:
        with open(gate) as f:
            f.read()
    if marker is not None:
        Path(marker).touch()
    return "done"


@pytest.fixture
def one_cpu():
    ray.init(num_cpus=1)
    yield
    ray.shutdown()


@pytest.mark.timeout(60)
def test_tasks_sent_ahead_run_exactly_once_with_nested_gets(one_cpu, tmp_path):
    """A task blocking in get() gives back the task sent behind it; every task runs once."""
    warm = tmp_path / "warm"
    warm.mkdir()
    ray.get([step.remote(-k, str(warm), False) for k in range(1, 9)], timeout=DEADLINE_S)
    log = tmp_path / "log"
    log.mkdir()
    before = sent_ahead()
    refs = [step.remote(i, str(log), i % 3 == 0) for i in range(30)]
    assert ray.get(refs, timeout=DEADLINE_S) == list(range(30))
    assert sorted(int(p) for p in os.listdir(log)) == sorted([*range(30), *range(1000, 1030, 3)])
    assert sent_ahead() > before, "no task was sent ahead: this test did not exercise pipelining"


@pytest.mark.timeout(60)
def test_cancelled_task_sent_ahead_never_runs(one_cpu, tmp_path):
    """Cancelling a task already sent to a busy worker stops it from starting there."""
    warm_up(work, None, None, None)
    gate, leader_gate = Gate(tmp_path, "gate"), Gate(tmp_path, "leader")
    first_started, started = StartedFlag(tmp_path), StartedFlag(tmp_path)
    marker = tmp_path / "follower-ran"
    first = work.remote(gate.path, first_started, None)
    first_started.wait()  # running, with nothing queued behind it yet
    leader = work.remote(leader_gate.path, started, None)
    follower = work.remote(None, None, str(marker))
    before = sent_ahead()
    gate.open()  # first ends; leader starts with follower sent behind it
    started.wait()
    assert sent_ahead() == before + 1
    ray.cancel(follower)
    leader_gate.open()
    assert ray.get([first, leader], timeout=DEADLINE_S) == ["done", "done"]
    with pytest.raises(exceptions.TaskCancelledError):
        ray.get(follower, timeout=DEADLINE_S)
    assert not marker.exists(), "the cancelled task ran"
    assert ray.get(work.remote(None, None, None), timeout=DEADLINE_S) == "done"
    first_started.close()
    started.close()


@pytest.mark.timeout(60)
def test_task_sent_ahead_survives_its_workers_crash(one_cpu, tmp_path):
    """A worker that dies with a task queued behind its own gives that task to another worker."""

    @ray.remote(max_retries=0)
    def maybe_crash(crash: bool, gate: str | None, started: StartedFlag | None) -> int:
        if started is not None:
            started.set()
        if gate is not None:
            with open(gate) as f:
                f.read()
        if crash:
            os._exit(3)
        return os.getpid()

    warm_up(maybe_crash, False, None, None)
    gate, leader_gate = Gate(tmp_path, "gate"), Gate(tmp_path, "leader")
    first_started, started = StartedFlag(tmp_path), StartedFlag(tmp_path)
    first = maybe_crash.remote(False, gate.path, first_started)
    first_started.wait()  # running, with nothing queued behind it yet
    leader = maybe_crash.remote(True, leader_gate.path, started)
    follower = maybe_crash.remote(False, None, None)
    before = sent_ahead()
    gate.open()
    started.wait()
    assert sent_ahead() == before + 1
    leader_gate.open()
    with pytest.raises(exceptions.WorkerCrashedError):
        ray.get(leader, timeout=DEADLINE_S)
    pid = ray.get(follower, timeout=DEADLINE_S)
    assert pid != ray.get(first, timeout=DEADLINE_S), "the follower should run in a new worker"
    first_started.close()
    started.close()


@pytest.mark.timeout(60)
def test_long_tasks_are_not_sent_ahead(one_cpu):
    """A function that runs long never has work queued behind it (no head-of-line wait)."""

    @ray.remote
    def slow() -> int:
        import time

        time.sleep(0.02)  # longer than PIPELINE_BELOW_S: the run time under test
        return 1

    ray.get(slow.remote(), timeout=DEADLINE_S)
    before = sent_ahead()
    assert sum(ray.get([slow.remote() for _ in range(6)], timeout=DEADLINE_S)) == 6
    assert sent_ahead() == before


@ray.remote
def get_first(refs: list) -> int:
    return ray.get(refs[0])  # ready already: returns at once, but still recalls the follower


@ray.remote
def first_seen_here() -> str:
    return "ran"


@pytest.mark.timeout(60)
def test_recalled_follower_runs_later_on_the_same_worker(one_cpu, tmp_path):
    """A follower recalled before it started (its function never loaded there) can run there later."""
    ready = ray.put(1)
    warm_up(get_first, [ready])
    warm_up(work, None, None, None)
    gate = Gate(tmp_path, "gate")
    first_started = StartedFlag(tmp_path)
    first = work.remote(gate.path, first_started, None)
    first_started.wait()
    leader = get_first.remote([ready])
    follower = first_seen_here.remote()
    before = sent_ahead()
    gate.open()
    assert ray.get([first, leader, follower], timeout=DEADLINE_S) == ["done", 1, "ran"]
    assert sent_ahead() == before + 1
    first_started.close()
