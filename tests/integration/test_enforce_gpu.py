"""Fractional GPUs' memory caps, and GPU memory given back, through the public API with real workers.

The caps are environment a worker is forked with, plus import hooks, so they
are visible without a GPU (``init(num_gpus=4)`` on a machine without one, as
the other GPU tests do). What the frameworks then do with them on real
hardware is checked in tests/gpu.
"""

from __future__ import annotations

import os
import sys
import time

import psutil
import pytest

import greenroom

pytestmark = pytest.mark.timeout(60)

CAPS = ("XLA_PYTHON_CLIENT_MEM_FRACTION", "TF_FORCE_GPU_ALLOW_GROWTH")


def gpu_env():
    limits = greenroom.get_runtime_context().get_resource_limits()
    return {var: os.environ.get(var) for var in CAPS}, limits["gpu_memory"], os.getpid()


remote_gpu_env = greenroom.remote(gpu_env)


def test_half_gpu_worker_starts_with_the_frameworks_caps(gr):
    """num_gpus=0.5: JAX's fraction and TensorFlow's growth are set; whole and CPU work see neither."""
    env, caps, _ = greenroom.get(remote_gpu_env.options(num_gpus=0.5).remote())
    assert env == {"XLA_PYTHON_CLIENT_MEM_FRACTION": "0.5000", "TF_FORCE_GPU_ALLOW_GROWTH": "true"}
    assert caps["jax"] == "XLA_PYTHON_CLIENT_MEM_FRACTION=0.5000"
    for options in ({"num_gpus": 1}, {"num_gpus": 0}):
        env, caps, _ = greenroom.get(remote_gpu_env.options(**options).remote())
        assert env == {var: None for var in CAPS} and caps is None


def test_capped_workers_are_not_reused_for_other_shares(gr):
    """A worker forked with a 0.25 cap never runs 0.5-GPU or whole-GPU work on the same device."""
    quarter = remote_gpu_env.options(num_gpus=0.25, max_calls=0)
    first_pid = greenroom.get(quarter.remote())[2]
    assert greenroom.get(quarter.remote())[2] == first_pid  # reused for the same cap
    env, _, pid = greenroom.get(remote_gpu_env.options(num_gpus=0.5, max_calls=0).remote())
    assert pid != first_pid and env["XLA_PYTHON_CLIENT_MEM_FRACTION"] == "0.5000"
    env, _, pid = greenroom.get(remote_gpu_env.options(num_gpus=1, max_calls=0).remote())
    assert pid != first_pid and env["XLA_PYTHON_CLIENT_MEM_FRACTION"] is None


def test_torch_gets_its_cap_at_cuda_init_without_starting_cuda(gr):
    """Importing torch in a half-GPU task arms set_per_process_memory_fraction for CUDA's first use;
    the import itself starts no CUDA context."""
    pytest.importorskip("torch")

    @greenroom.remote(num_gpus=0.5)
    def import_torch():
        import torch

        caps = greenroom.get_runtime_context().get_resource_limits()["gpu_memory"]
        return caps.get("torch"), torch.cuda.is_initialized()

    cap, cuda_started = greenroom.get(import_torch.remote())
    assert cap == "torch.cuda.set_per_process_memory_fraction(0.5000) at CUDA init"
    assert cuda_started is False


def test_gpu_memory_caps_off_per_task_and_globally(gr):
    """_enforce={'gpu_memory': False} forks a plain worker for the share."""
    uncapped = remote_gpu_env.options(num_gpus=0.5, _enforce={"gpu_memory": False})
    env, caps, _ = greenroom.get(uncapped.remote())
    assert env == {var: None for var in CAPS} and caps is None
    greenroom.shutdown()
    greenroom.init(num_cpus=2, num_gpus=1, _enforce=False)
    env, caps, _ = greenroom.get(remote_gpu_env.options(num_gpus=0.5).remote())
    assert env == {var: None for var in CAPS} and caps is None


def test_the_users_own_jax_fraction_wins(monkeypatch):
    """XLA_PYTHON_CLIENT_MEM_FRACTION set in the driver's environment is what a share's worker sees."""
    monkeypatch.setenv("XLA_PYTHON_CLIENT_MEM_FRACTION", "0.9")
    greenroom.init(num_cpus=2, num_gpus=1)
    try:
        env, caps, _ = greenroom.get(remote_gpu_env.options(num_gpus=0.5).remote())
        assert env["XLA_PYTHON_CLIENT_MEM_FRACTION"] == "0.9"
        assert caps["jax"] == "XLA_PYTHON_CLIENT_MEM_FRACTION=0.9"
    finally:
        greenroom.shutdown()


class SlowToExit:
    """stdout whose last flush, as the worker process exits, takes a while (like a CUDA context's teardown)."""

    def __init__(self, stream):
        self.stream = stream

    def flush(self):
        self.stream.flush()
        if sys._getframe(1).f_code.co_name == "_become_worker":  # the process's last flush, as it exits
            time.sleep(0.3)  # the slow teardown being simulated, not a synchronisation

    def __getattr__(self, name):
        return getattr(self.stream, name)


@greenroom.remote(num_gpus=1)
def gpu_pid():
    sys.stdout = SlowToExit(sys.stdout)  # this worker exits after the task (max_calls=1), slowly
    return os.getpid()


@greenroom.remote(num_gpus=1)
def previous_gone(refs):
    """Run once the GPU is granted again: is the previous holder's process still there?"""
    return psutil.pid_exists(greenroom.get(refs[0]))


def test_a_retired_gpu_workers_process_is_gone_before_its_gpu_is_granted_again():
    """max_calls=1 (the GPU default): the next task on the GPU starts only once the last one's
    process has ended, even when it takes a while to (with NVML: once NVML no longer lists it)."""
    greenroom.init(num_cpus=2, num_gpus=1)
    try:
        refs = [gpu_pid.remote()]
        checks = []
        for _ in range(5):
            checks.append(previous_gone.remote([refs[-1]]))
            refs.append(gpu_pid.remote())
        assert greenroom.get(checks) == [False] * 5
    finally:
        greenroom.shutdown()


def test_a_crashed_gpu_tasks_retry_waits_for_its_process_to_end(gr, tmp_path):
    """A GPU task whose worker died is retried on its GPU once the dead process is gone."""

    @greenroom.remote(num_gpus=4, max_retries=1)
    def crash_once(directory):
        marks = os.listdir(directory)
        if not marks:
            open(os.path.join(directory, str(os.getpid())), "w").close()
            os._exit(3)
        return psutil.pid_exists(int(marks[0]))

    assert greenroom.get(crash_once.remote(str(tmp_path))) is False


@greenroom.remote(num_gpus=2)
class GpuActor:
    def pid(self):
        return os.getpid()


def test_killing_a_gpu_actor_returns_with_its_process_gone_and_its_gpus_free(gr):
    """kill() of a GPU actor returns once its process has ended: its GPUs are available at once."""
    actor = GpuActor.remote()
    pid = greenroom.get(actor.pid.remote())
    assert greenroom.available_resources()["GPU"] == 2.0
    greenroom.kill(actor)
    assert greenroom.available_resources()["GPU"] == 4.0
    assert not psutil.pid_exists(pid)
