"""greenroom.util.state with real workers: actors, tasks, placement groups, workers, objects; and timeline()."""

from __future__ import annotations

import json
import os

import pytest
from helpers import wait_for
from signal_helper import Signal

import greenroom as ray
from greenroom.util.placement_group import placement_group, remove_placement_group
from greenroom.util.state import (
    get_actor, get_task, list_actors, list_nodes, list_objects, list_placement_groups, list_tasks, list_workers,
    summarize_actors, summarize_tasks,
)  # fmt: skip
from greenroom.util.state.common import ActorState, TaskState

pytestmark = pytest.mark.timeout(60)


@ray.remote(num_gpus=1)
class Holder:
    def pid_and_gpus(self):
        return os.getpid(), ray.get_gpu_ids()

    def wait(self, box):
        return ray.get(box[0])


@ray.remote(max_retries=0)
def waiter(box):
    return os.getpid(), ray.get(box[0])


@ray.remote(max_retries=0)
def boom():
    raise ValueError("boom")


def _states(**filters) -> list[str]:
    return [t.state for t in list_tasks(filters=[(k, "=", v) for k, v in filters.items()])]


def test_a_live_actor_is_alive_with_its_pid_and_gpus_and_dead_once_killed(gr):
    """list_actors: ALIVE with the process's pid and GPU ids; DEAD with its cause after kill()."""
    actor = Holder.options(name="holder").remote()
    pid, gpus = ray.get(actor.pid_and_gpus.remote(), timeout=30)
    [found] = list_actors(filters=[("name", "=", "holder")])
    assert isinstance(found, ActorState)
    assert (found.state, found["pid"], found.gpu_ids, found.class_name) == ("ALIVE", pid, gpus, "Holder")
    assert found.actor_id == actor._actor_id.hex() and found.required_resources is None
    assert get_actor(found.actor_id).required_resources == {"GPU": 1.0}
    assert [w.pid for w in list_workers(filters=[("actor_id", "=", found.actor_id)])] == [pid]
    ray.kill(actor)
    dead = get_actor(found.actor_id)
    assert dead.state == "DEAD" and "kill()" in dead.death_cause["actor_died_error_context"]["error_message"]
    assert list_actors(filters=[("state", "=", "ALIVE")]) == []
    assert summarize_actors()["cluster"]["summary"]["Holder"]["state_counts"] == {"DEAD": 1}


def test_tasks_are_listed_running_queued_finished_and_failed(gr):
    """A task blocked in get() is RUNNING on its worker; one whose GPUs an actor holds waits for
    the node; finished and failed ones stay listed with their outcome."""
    signal = Signal()
    running = [waiter.remote([signal.ref]) for _ in range(2)]
    wait_for(lambda: _states(name="waiter") == ["RUNNING", "RUNNING"], "both waiters to run")
    actor = Holder.remote()
    ray.get(actor.pid_and_gpus.remote(), timeout=30)
    queued = waiter.options(num_gpus=4, name="queued").remote([signal.ref])
    wait_for(lambda: _states(name="queued") == ["PENDING_NODE_ASSIGNMENT"], "the task to queue")
    pids = {t.worker_pid for t in list_tasks(filters=[("state", "=", "RUNNING"), ("type", "=", "NORMAL_TASK")])}
    signal.send()
    assert {pid for pid, _ in ray.get(running, timeout=30)} == pids
    ray.kill(actor)
    ray.get(queued, timeout=30)
    with pytest.raises(ValueError):
        ray.get(boom.remote(), timeout=30)
    [failed] = list_tasks(filters=[("name", "=", "boom")], detail=True)
    assert isinstance(failed, TaskState)
    assert (failed.state, failed.error_type, failed.type) == ("FAILED", "TASK_EXECUTION_EXCEPTION", "NORMAL_TASK")
    assert failed.creation_time_ms <= failed.start_time_ms <= failed.end_time_ms
    assert _states(name="queued") == ["FINISHED"]
    assert get_task(running[0].hex()[:24]).state == "FINISHED"
    counts = summarize_tasks()["cluster"]["summary"]["waiter"]["state_counts"]
    assert counts == {"FINISHED": 2}


def test_actor_creation_and_calls_are_tasks_with_the_actors_gpus(gr):
    """The constructor is an ACTOR_CREATION_TASK, each call an ACTOR_TASK on the actor's pid and GPUs."""
    signal = Signal()
    actor = Holder.remote()
    pid, gpus = ray.get(actor.pid_and_gpus.remote(), timeout=30)
    ref = actor.wait.remote([signal.ref])
    wait_for(lambda: _states(func_or_class_name="Holder.wait") == ["RUNNING"], "the call to run")
    [call] = list_tasks(filters=[("func_or_class_name", "=", "Holder.wait")])
    assert (call.type, call.worker_pid, call.gpu_ids, call.actor_id) == ("ACTOR_TASK", pid, gpus,
                                                                        actor._actor_id.hex())  # fmt: skip
    [creation] = list_tasks(filters=[("type", "=", "ACTOR_CREATION_TASK")])
    assert (creation.state, creation.name, creation.worker_pid) == ("FINISHED", "Holder.__init__", pid)
    signal.send(1)
    assert ray.get(ref, timeout=30) == 1
    assert _states(func_or_class_name="Holder.wait") == ["FINISHED"]


def test_placement_groups_workers_objects_and_the_node(gr):
    """A placement group is CREATED with its bundles, then REMOVED; objects and the node are listed."""
    pg = placement_group([{"CPU": 1}, {"GPU": 1}], name="pair")
    ray.get(pg.ready(), timeout=30)
    [group] = list_placement_groups(filters=[("name", "=", "pair")], detail=True)
    assert (group.state, group.strategy) == ("CREATED", "PACK")
    assert [b["unit_resources"] for b in group.bundles] == [{"CPU": 1.0}, {"GPU": 1.0}]
    remove_placement_group(pg)
    assert list_placement_groups(filters=[("placement_group_id", "=", group.placement_group_id)])[0].state == "REMOVED"
    ref = ray.put(b"x" * 1000)
    [obj] = list_objects(filters=[("object_id", "=", ref.hex())])
    assert obj.object_size >= 1000 and obj.reference_type == "LOCAL_REFERENCE" and obj.task_status == "FINISHED"
    [node] = list_nodes()
    assert node.state == "ALIVE" and node.resources_total["GPU"] == 4 and node.gpu_ids == [0, 1, 2, 3]
    assert all(w.is_alive for w in list_workers())


def test_the_state_api_answers_inside_a_task_and_limits_are_applied(gr):
    """A task lists what its node runs; ``limit`` caps the answer; bad filters fail in the caller."""

    @ray.remote
    def count_alive():
        from greenroom.util.state import list_actors

        return len(list_actors(filters=[("state", "=", "ALIVE")]))

    actors = [Holder.remote() for _ in range(2)]
    ray.get([a.pid_and_gpus.remote() for a in actors], timeout=30)
    assert ray.get(count_alive.remote(), timeout=30) == 2
    assert len(list_actors(limit=1)) == 1
    with pytest.raises(ValueError, match="Unsupported filter predicate"):
        list_actors(filters=[("pid", "<", 3)])


def test_timeline_file_has_every_task_creation_and_call(gr, tmp_path):
    """timeline(filename=...) writes Chrome trace JSON with each task, actor creation and call:
    name, the pid that ran it, start and end, GPU ids."""

    @ray.remote
    def plain():
        return os.getpid()

    task_pids = set(ray.get([plain.remote() for _ in range(3)], timeout=30))
    actor = Holder.remote()
    actor_pid, gpus = ray.get(actor.pid_and_gpus.remote(), timeout=30)
    path = tmp_path / "trace.json"
    assert ray.timeline(filename=str(path)) is None
    events = json.loads(path.read_text())
    tasks = [e for e in events if e["cat"] == "task" and e["name"].endswith("plain")]
    assert len(tasks) == 3 and {e["args"]["worker_pid"] for e in tasks} == task_pids
    [creation] = [e for e in events if e["cat"] == "actor_creation"]
    [call] = [e for e in events if e["cat"] == "actor_call"]
    assert creation["name"] == "Holder.__init__" and call["name"].endswith("pid_and_gpus")
    for event in (creation, call):
        assert event["args"] == {"worker_pid": actor_pid, "gpu_ids": gpus}
    assert all(e["ph"] == "X" and e["ts"] > 0 and e["dur"] >= 0 for e in events)
    assert creation["ts"] + creation["dur"] <= call["ts"] + call["dur"]
