"""Blocked tasks waiting on work only their own resources could run: greenroom fails fast."""

from __future__ import annotations

import pytest

import greenroom as ray
from greenroom.exceptions import ResourceDeadlockError


@ray.remote(num_gpus=1)
def gpu_leaf():
    return ray.get_gpu_ids()


@ray.remote(num_gpus=2)
def gpu_parent():
    # Holds 2 GPUs while blocked in get(); the leaf needs one more on a full node.
    return ray.get(gpu_leaf.remote())


def test_gpu_task_waiting_on_gpu_task_on_full_node():
    """Two 2-GPU tasks each waiting on a 1-GPU task on a 4-GPU node: error naming the cycle."""
    ray.init(num_cpus=2, num_gpus=4)
    try:
        refs = [gpu_parent.remote() for _ in range(2)]
        for ref in refs:
            with pytest.raises(ResourceDeadlockError, match="gpu_leaf.*GPU") as info:
                ray.get(ref, timeout=30)
            assert "gpu_parent" in str(info.value)
        # Nothing is left held: a 4-GPU task runs now.
        assert ray.get(ray.remote(num_gpus=4)(lambda: "ok").remote(), timeout=30) == "ok"
    finally:
        ray.shutdown()


def test_gpu_nesting_with_room_is_not_a_deadlock():
    """A 1-GPU task waiting on another 1-GPU task with a GPU free just works."""
    ray.init(num_cpus=2, num_gpus=2)
    try:

        @ray.remote(num_gpus=1)
        def parent():
            return ray.get_gpu_ids(), ray.get(gpu_leaf.remote())

        mine, inner = ray.get(parent.remote(), timeout=30)
        assert len(mine) == 1 and len(inner) == 1 and mine != inner
    finally:
        ray.shutdown()


def test_custom_resource_deadlock():
    """A task holding the only unit of a custom resource, waiting on a task that needs it."""
    ray.init(num_cpus=2, resources={"license": 1})
    try:

        @ray.remote(resources={"license": 1})
        def inner():
            return 1

        @ray.remote(resources={"license": 1})
        def outer():
            return ray.get(inner.remote())

        with pytest.raises(ResourceDeadlockError, match="license"):
            ray.get(outer.remote(), timeout=30)
    finally:
        ray.shutdown()


def test_actors_holding_every_cpu_waiting_on_tasks():
    """Actors that hold every CPU and block on a task needing a CPU fail fast, naming the fix."""
    ray.init(num_cpus=2)
    try:

        @ray.remote(num_cpus=1)
        class Outer:
            def run(self):
                return ray.get(ray.remote(lambda: 1).remote())

        actors = [Outer.remote() for _ in range(2)]
        for ref in [a.run.remote() for a in actors]:
            with pytest.raises(ResourceDeadlockError, match="PlacementGroupFactory"):
                ray.get(ref, timeout=30)
    finally:
        ray.shutdown()


def test_actor_waiting_on_runnable_task_is_fine():
    """An actor blocked on a task that has a free CPU just gets the result."""
    ray.init(num_cpus=2)
    try:

        @ray.remote(num_cpus=1)
        class Outer:
            def run(self):
                return ray.get(ray.remote(lambda: 1).remote())

        assert ray.get(Outer.remote().run.remote(), timeout=30) == 1
    finally:
        ray.shutdown()
