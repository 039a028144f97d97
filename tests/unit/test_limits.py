"""The pure enforcement rules (runtime/limits.py): options, thread counts, GPU caps, worker keys."""

from __future__ import annotations

import pytest

from greenroom.runtime import limits
from greenroom.runtime.limits import (
    ALL, CPU_AFFINITY, GPU_MEMORY, MEMORY, THREADS, NodeEnforcement, gpu_memory_env, parse_enforce,
    thread_count, worker_key,
)  # fmt: skip

pytestmark = pytest.mark.timeout(10)


def test_enforce_true_false_and_dicts():
    """True enforces every kind, False none, a dict turns off only the kinds it names."""
    assert parse_enforce(True, "_enforce") == ALL
    assert parse_enforce(False, "_enforce") == 0
    assert parse_enforce({"memory": False}, "_enforce") == ALL & ~MEMORY
    assert parse_enforce({"threads": False, "gpu_memory": False}, "_enforce") == CPU_AFFINITY | MEMORY
    assert parse_enforce({"memory": True}, "_enforce") == ALL


@pytest.mark.parametrize(
    "value, error, text",
    [
        ("yes", TypeError, "expected True, False or a dict"),
        (1, TypeError, "expected True, False or a dict"),
        ({"ram": False}, ValueError, "unknown kind 'ram'"),
        ({"memory": 0}, TypeError, "'memory' must be True or False"),
    ],
)
def test_bad_enforce_values_say_what_to_pass(value, error, text):
    """A bad _enforce names the kinds there are."""
    with pytest.raises(error, match=text):
        parse_enforce(value, "_enforce")


def test_init_turns_pinning_on_with_its_own_argument():
    """init(_enforce={'cpu_affinity': ...}) points to init(cpu_affinity=...)."""
    with pytest.raises(ValueError, match="init\\(cpu_affinity=True/False\\)"):
        parse_enforce({"cpu_affinity": True}, "init(_enforce=...)", allow_affinity=False)


@pytest.mark.parametrize("cpus, threads", [(0, 1), (0.5, 1), (1, 1), (1.5, 1), (2, 2), (2.9999, 2), (16, 16)])
def test_thread_count_is_floor_at_least_one(cpus, threads):
    """max(1, floor(num_cpus)), as Ray sets OMP_NUM_THREADS."""
    assert thread_count(cpus) == threads


def test_thread_count_survives_float_noise():
    """0.1 * 30 CPUs (2.9999999999999996 in floats) is 3 threads."""
    assert thread_count(0.1 * 30) == 3


def test_gpu_memory_env_caps_each_framework_but_leaves_the_users_own():
    """A half GPU: JAX's fraction, TensorFlow's growth, the limit in MB for the hooks."""
    env = gpu_memory_env(0.5, 80_000, {})
    assert env == {
        limits.GPU_FRACTION_VAR: "0.5000",
        "XLA_PYTHON_CLIENT_MEM_FRACTION": "0.5000",
        "TF_FORCE_GPU_ALLOW_GROWTH": "true",
        limits.GPU_LIMIT_MB_VAR: "40000",
    }
    users = {"XLA_PYTHON_CLIENT_MEM_FRACTION": "0.9", "TF_FORCE_GPU_ALLOW_GROWTH": "false"}
    mine = gpu_memory_env(0.25, None, users)
    assert mine == {limits.GPU_FRACTION_VAR: "0.2500"}


def test_worker_key_separates_capped_workers():
    """Whole-GPU and CPU workers are keyed by their devices; a capped fractional one by its cap too."""
    assert worker_key("", None) == ""
    assert worker_key("0", None) == "0"
    assert worker_key("0", 0.5) != worker_key("0", None)
    assert worker_key("0", 0.5) != worker_key("0", 0.25)


def test_memory_monitor_off_means_no_memory_enforcement():
    """A period of 0 turns the memory kind off in the node's effective mask."""
    assert NodeEnforcement().effective_mask == THREADS | MEMORY | GPU_MEMORY
    assert NodeEnforcement(memory_refresh_ms=0).effective_mask == THREADS | GPU_MEMORY
