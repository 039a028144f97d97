"""GPU ids, CUDA_VISIBLE_DEVICES and worker reuse, through the public API with real workers.

Tasks that must be running at the same time meet at a file barrier in ``tmp_path``
(each writes a file, then waits with a deadline until all have); tasks that must
stay running until the test says so wait for a release file.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

import greenroom
from helpers import process_ended, wait_for

DEADLINE_S = 20.0


def barrier(directory: str, name: str, parties: int) -> None:
    """Announce ``name`` in ``directory`` and wait until ``parties`` have announced."""
    Path(directory, name).touch()
    wait_for(lambda: len(os.listdir(directory)) >= parties, f"{parties} tasks at barrier {directory}")


def hold_until_released(started: str, release: str) -> None:
    """Signal ``started`` and wait until the test creates ``release``."""
    Path(started).touch()
    wait_for(lambda: os.path.exists(release), f"release file {release}")


@greenroom.remote
def cpu_ids():
    return greenroom.get_gpu_ids(), os.environ.get("CUDA_VISIBLE_DEVICES")


@greenroom.remote(num_gpus=1)
def one_gpu_ids():
    return greenroom.get_gpu_ids(), os.environ.get("CUDA_VISIBLE_DEVICES")


@greenroom.remote(num_gpus=2)
def two_gpu_ids():
    return greenroom.get_gpu_ids(), os.environ.get("CUDA_VISIBLE_DEVICES")


@greenroom.remote(num_gpus=1, num_cpus=0)
def whole_gpu_at_barrier(directory: str, name: str, parties: int):
    barrier(directory, name, parties)
    return greenroom.get_gpu_ids(), os.environ.get("CUDA_VISIBLE_DEVICES")


@greenroom.remote(num_gpus=0.5, num_cpus=0)
def half_gpu_at_barrier(directory: str, name: str, parties: int):
    barrier(directory, name, parties)
    return greenroom.get_gpu_ids(), os.environ.get("CUDA_VISIBLE_DEVICES")


@greenroom.remote(num_cpus=0)
def held_gpu_share(started: str, release: str):
    hold_until_released(started, release)
    return greenroom.get_gpu_ids()


@greenroom.remote
def cpu_pid():
    return os.getpid()


@greenroom.remote(num_gpus=1)
def gpu_pid():
    return os.getpid()


@greenroom.remote(max_calls=2)
def cpu_pid_two_calls():
    return os.getpid()


@greenroom.remote(num_gpus=1)
def gpu_context():
    ctx = greenroom.get_runtime_context()
    return greenroom.get_gpu_ids(), ctx.get_accelerator_ids(), ctx.get_assigned_resources()


@greenroom.remote(num_gpus=0.5)
def half_gpu_context():
    ctx = greenroom.get_runtime_context()
    return greenroom.get_gpu_ids(), ctx.get_accelerator_ids(), ctx.get_assigned_resources()


def test_one_gpu_task_sees_one_id(gr):
    """A num_gpus=1 task gets one id in range, and CUDA_VISIBLE_DEVICES holds exactly it."""
    ids, cuda = greenroom.get(one_gpu_ids.remote(), timeout=DEADLINE_S)
    assert len(ids) == 1 and ids[0] in range(4)
    assert cuda == str(ids[0])


def test_cpu_task_sees_no_gpu(gr):
    """A task without GPUs sees get_gpu_ids() == [] and CUDA_VISIBLE_DEVICES == ''."""
    ids, cuda = greenroom.get(cpu_ids.remote(), timeout=DEADLINE_S)
    assert ids == []
    assert cuda == ""


def test_driver_sees_no_gpu_ids(gr):
    """get_gpu_ids() in the driver, outside any task, is []."""
    assert greenroom.get_gpu_ids() == []


def test_two_gpu_task_gets_two_distinct_ids(gr):
    """A num_gpus=2 task gets two distinct ids, comma-separated in CUDA_VISIBLE_DEVICES."""
    ids, cuda = greenroom.get(two_gpu_ids.remote(), timeout=DEADLINE_S)
    assert len(ids) == 2 and len(set(ids)) == 2
    assert set(ids) <= set(range(4))
    assert cuda == ",".join(map(str, ids))


def test_concurrent_whole_gpu_tasks_get_distinct_ids(gr, tmp_path):
    """Four whole-GPU tasks running at once hold the four different GPUs."""
    refs = [whole_gpu_at_barrier.remote(str(tmp_path), f"t{i}", 4) for i in range(4)]
    results = greenroom.get(refs, timeout=DEADLINE_S + 10)
    ids = sorted(i for got, _ in results for i in got)
    assert ids == [0, 1, 2, 3]
    for got, cuda in results:
        assert cuda == str(got[0])


def test_fifth_whole_gpu_task_waits_for_a_free_gpu(gr, tmp_path):
    """With all 4 GPUs held, a fifth num_gpus=1 task does not start until one is released."""
    started = [str(tmp_path / f"started{i}") for i in range(4)]
    release = str(tmp_path / "release")
    held = [
        held_gpu_share.options(num_gpus=1).remote(started[i], release) for i in range(4)
    ]
    wait_for(lambda: all(os.path.exists(s) for s in started), "4 GPU holders to start")
    fifth = one_gpu_ids.options(num_cpus=0).remote()
    ready, _ = greenroom.wait([fifth], timeout=0.5)
    assert ready == [], "a fifth whole-GPU task ran while all 4 GPUs were held"
    Path(release).touch()
    held_ids = greenroom.get(held, timeout=DEADLINE_S)
    assert sorted(i for got in held_ids for i in got) == [0, 1, 2, 3]
    ids, cuda = greenroom.get(fifth, timeout=DEADLINE_S)
    assert len(ids) == 1 and cuda == str(ids[0])


def test_half_gpu_tasks_running_together_share_one_id(gr, tmp_path):
    """Two 0.5-GPU tasks running at the same time are packed onto one GPU id."""
    refs = [half_gpu_at_barrier.remote(str(tmp_path), f"t{i}", 2) for i in range(2)]
    (ids_a, cuda_a), (ids_b, cuda_b) = greenroom.get(refs, timeout=DEADLINE_S + 10)
    assert len(ids_a) == 1 and ids_a == ids_b
    assert cuda_a == cuda_b == str(ids_a[0])


def test_fractional_request_never_spans_devices(tmp_path):
    """0.25 free on each of two GPUs does not make room for a 0.5-GPU task; a freed GPU does."""
    greenroom.init(num_cpus=2, num_gpus=2)
    try:
        release_a, release_b = str(tmp_path / "release_a"), str(tmp_path / "release_b")
        started_a, started_b = str(tmp_path / "started_a"), str(tmp_path / "started_b")
        a = held_gpu_share.options(num_gpus=0.75).remote(started_a, release_a)
        b = held_gpu_share.options(num_gpus=0.75).remote(started_b, release_b)
        wait_for(lambda: os.path.exists(started_a) and os.path.exists(started_b), "both 0.75-GPU tasks to start")
        c = one_gpu_ids.options(num_gpus=0.5, num_cpus=0).remote()
        ready, _ = greenroom.wait([c], timeout=0.5)
        assert ready == [], "a 0.5-GPU task ran on two 0.25 leftovers of different GPUs"
        Path(release_a).touch()
        ids_a = greenroom.get(a, timeout=DEADLINE_S)
        ids_c, cuda_c = greenroom.get(c, timeout=DEADLINE_S)
        Path(release_b).touch()
        ids_b = greenroom.get(b, timeout=DEADLINE_S)
        assert len(ids_a) == len(ids_b) == 1 and ids_a != ids_b
        assert ids_c == ids_a and cuda_c == str(ids_a[0])
    finally:
        greenroom.shutdown()


def test_gpu_tasks_run_in_a_fresh_process_each_call(gr):
    """GPU tasks default to max_calls=1: sequential calls never share a worker process."""
    pids = [greenroom.get(gpu_pid.remote(), timeout=DEADLINE_S) for _ in range(3)]
    assert len(set(pids)) == 3


def test_cpu_tasks_reuse_workers(gr):
    """Sequential CPU tasks reuse an idle worker process."""
    pids = [greenroom.get(cpu_pid.remote(), timeout=DEADLINE_S) for _ in range(3)]
    assert len(set(pids)) < len(pids)


def test_max_calls_retires_the_worker(gr):
    """max_calls=2 on a CPU task: a worker runs it twice, then exits and a new one takes over."""
    pids = [greenroom.get(cpu_pid_two_calls.remote(), timeout=DEADLINE_S) for _ in range(4)]
    assert pids[0] == pids[1]
    assert pids[2] == pids[3]
    assert pids[0] != pids[2]

    wait_for(lambda: process_ended(pids[0]), f"retired worker {pids[0]} to exit")


def test_driver_cuda_visible_devices_maps_ids(monkeypatch):
    """With the driver's CUDA_VISIBLE_DEVICES='5,7', tasks get devices 5 and 7, not 0 and 1."""
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "5,7")
    greenroom.init(num_cpus=2, num_gpus=2)
    try:
        ids, cuda = greenroom.get(one_gpu_ids.remote(), timeout=DEADLINE_S)
        assert cuda in ("5", "7")
        assert ids == [int(cuda)]
        ids, cuda = greenroom.get(two_gpu_ids.remote(), timeout=DEADLINE_S)
        assert sorted(ids) == [5, 7]
        assert sorted(cuda.split(",")) == ["5", "7"]
        assert cuda == ",".join(map(str, ids))
    finally:
        greenroom.shutdown()


def test_runtime_context_in_a_gpu_task(gr):
    """get_accelerator_ids() and get_assigned_resources() inside a num_gpus=1 task."""
    ids, accel, assigned = greenroom.get(gpu_context.remote(), timeout=DEADLINE_S)
    assert accel == {"GPU": [str(ids[0])]}
    assert assigned == {"CPU": 1.0, "GPU": 1.0}


def test_runtime_context_in_a_fractional_gpu_task(gr):
    """A 0.5-GPU task is assigned GPU 0.5 on one accelerator id."""
    ids, accel, assigned = greenroom.get(half_gpu_context.remote(), timeout=DEADLINE_S)
    assert len(ids) == 1
    assert accel == {"GPU": [str(ids[0])]}
    assert assigned == {"CPU": 1.0, "GPU": 0.5}
