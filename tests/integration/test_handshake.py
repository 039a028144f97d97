"""The worker handshake: work only after a HELLO with this node's protocol, within a deadline."""

from __future__ import annotations

import pytest

import greenroom as ray
from greenroom.exceptions import RaySystemError, WorkerCrashedError
from greenroom.runtime import wire

pytestmark = pytest.mark.timeout(60)


def test_a_protocol_mismatch_fails_work_with_an_error_that_says_so(monkeypatch):
    """Workers speaking another protocol version: get() raises, naming both versions."""
    monkeypatch.setattr(wire, "PROTOCOL_VERSION", 999)  # the node's side only: workers still speak 3
    ray.init(num_cpus=1)
    try:
        with pytest.raises(RaySystemError, match=r"spoke protocol version \d+, but this node speaks protocol version 999"):
            ray.get(ray.remote(lambda: 1).remote(), timeout=30)
        with pytest.raises(RaySystemError, match="different greenroom"):
            ray.remote(lambda: 1).remote()
    finally:
        ray.shutdown()


def test_a_worker_that_misses_the_hello_deadline_is_killed_and_the_task_fails_clearly(monkeypatch):
    """No HELLO in time: the worker is killed and its task fails, saying why, not hanging."""
    monkeypatch.setattr(wire, "HELLO_DEADLINE_S", 0.0)
    ray.init(num_cpus=1)
    try:
        with pytest.raises(WorkerCrashedError, match="did not finish starting within 0 s"):
            ray.get(ray.remote(max_retries=0)(lambda: 1).remote(), timeout=30)
    finally:
        ray.shutdown()

