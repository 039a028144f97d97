"""get_runtime_context(), nodes(), timeline() and the node's own resources, as Ray programs use them."""

from __future__ import annotations

import json
import os

import pytest

import greenroom as ray
from greenroom.exceptions import TaskUnschedulableError
from greenroom.util.scheduling_strategies import NodeAffinitySchedulingStrategy

pytestmark = pytest.mark.timeout(60)


@ray.remote
def context_in_task():
    ctx = ray.get_runtime_context()
    return ctx.namespace, ctx.get_node_id(), ctx.get_task_name(), ctx.get_worker_id(), ctx.get_job_id()


@ray.remote(max_restarts=1)
class Named:
    def info(self):
        ctx = ray.get_runtime_context()
        return ctx.get_actor_name(), ctx.namespace, ctx.was_current_actor_reconstructed, ctx.get_task_name()

    def through_current_actor(self):
        return ray.get(ray.get_runtime_context().current_actor.echo.remote("via handle"), timeout=30)

    def echo(self, x):
        return x

    def pid(self):
        return os.getpid()


def test_tasks_and_actors_see_the_jobs_namespace_and_ids():
    """Inside tasks and actors: the job's namespace and node id, the task's name, the actor's name."""
    ray.init(num_cpus=2, namespace="analytics")
    try:
        here = ray.get_runtime_context()
        namespace, node_id, name, worker_id, job_id = ray.get(context_in_task.remote(), timeout=30)
        assert (namespace, node_id, job_id) == ("analytics", here.get_node_id(), here.get_job_id())
        assert name.endswith("context_in_task") and worker_id != here.get_worker_id()
        assert here.node_id == ray.nodes()[0]["NodeID"] and len(here.node_id) == 56
        actor = Named.options(name="named-one", max_concurrency=2).remote()
        assert ray.get(actor.info.remote(), timeout=30) == ("named-one", "analytics", False, "Named.info")
        assert ray.get(actor.through_current_actor.remote(), timeout=30) == "via handle"
        ray.kill(actor)
    finally:
        ray.shutdown()


def test_a_restarted_actor_knows_it_was_reconstructed(gr):
    """was_current_actor_reconstructed is False at first, True after its process died and came back."""
    actor = Named.options(max_task_retries=1).remote()  # a call caught by the restart runs again
    assert ray.get(actor.info.remote(), timeout=30)[2] is False
    pid = ray.get(actor.pid.remote(), timeout=30)
    ray.kill(actor, no_restart=False)
    assert ray.get(actor.info.remote(), timeout=30)[2] is True
    assert ray.get(actor.pid.remote(), timeout=30) != pid


def test_nodes_and_the_node_resources(gr):
    """nodes() lists this node with Ray's keys; node:<ip> and node:__internal_head__ are resources."""
    (node,) = ray.nodes()
    assert node["Alive"] and node["alive"] and node["Resources"] == ray.cluster_resources()
    ip = node["NodeManagerAddress"]
    resources = ray.cluster_resources()
    assert resources[f"node:{ip}"] == 1.0 and resources["node:__internal_head__"] == 1.0

    @ray.remote(resources={f"node:{ip}": 0.01})
    def pinned_to_this_node():
        return "ran"

    assert ray.get(pinned_to_this_node.remote(), timeout=30) == "ran"


def test_node_affinity_to_this_node_runs_and_to_an_unknown_node_fails_fast(gr):
    """NodeAffinitySchedulingStrategy: this node's id runs; another id fails at .remote() unless soft."""
    here = ray.get_runtime_context().get_node_id()
    affine = context_in_task.options(scheduling_strategy=NodeAffinitySchedulingStrategy(here, soft=False))
    assert ray.get(affine.remote(), timeout=30)[1] == here
    elsewhere = NodeAffinitySchedulingStrategy("ab" * 28, soft=False)
    with pytest.raises(TaskUnschedulableError, match="soft=True"):
        context_in_task.options(scheduling_strategy=elsewhere).remote()
    soft = NodeAffinitySchedulingStrategy("ab" * 28, soft=True)
    assert ray.get(context_in_task.options(scheduling_strategy=soft).remote(), timeout=30)[1] == here


def test_timeline_lists_tasks_actor_creations_and_calls(gr, tmp_path):
    """timeline() returns Chrome trace events; timeline(filename) writes them as JSON."""
    ray.get(context_in_task.remote(), timeout=30)
    actor = Named.remote()
    ray.get(actor.echo.remote(1), timeout=30)
    events = ray.timeline()
    kinds = {(e["cat"], e["name"].split(".")[-1]) for e in events}
    assert ("task", "context_in_task") in kinds or any(e["name"].endswith("context_in_task") for e in events)
    assert ("actor_creation", "__init__") in kinds and ("actor_call", "echo") in kinds
    assert all(e["ph"] == "X" and e["dur"] >= 0 and isinstance(e["args"]["worker_pid"], int) for e in events)
    path = tmp_path / "trace.json"
    assert ray.timeline(filename=str(path)) is None
    assert len(json.loads(path.read_text())) >= len(events)


def test_init_accepts_logging_arguments():
    """init(configure_logging=..., logging_config=...) are accepted, as Ray programs pass them."""
    ray.init(num_cpus=1, configure_logging=False, logging_config=None)
    try:
        assert ray.is_initialized()
    finally:
        ray.shutdown()
