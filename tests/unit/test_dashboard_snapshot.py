"""The dashboard's pure helpers: per-GPU use, resource rows, log tails."""

from __future__ import annotations

import os

import pytest

from greenroom.dashboard.snapshot import gpu_use, resource_rows, tail_logs

pytestmark = pytest.mark.timeout(10)


def test_each_gpu_lists_its_holders_and_how_much_they_hold():
    """Whole GPUs over several ids, a fraction on one id; dead actors and queued tasks hold nothing."""
    actors = [
        {"actor_id": "a1", "class_name": "Big", "state": "ALIVE", "pid": 10, "gpu_ids": [0, 1],
         "required_resources": {"GPU": 2.0}},
        {"actor_id": "a2", "class_name": "Half", "state": "ALIVE", "pid": 11, "gpu_ids": [2],
         "required_resources": {"GPU": 0.5}},
        {"actor_id": "a3", "class_name": "Gone", "state": "DEAD", "pid": 12, "gpu_ids": [3],
         "required_resources": {"GPU": 1.0}},
    ]  # fmt: skip
    tasks = [
        {"task_id": "t1", "name": "f", "state": "RUNNING", "type": "NORMAL_TASK", "worker_pid": 13, "gpu_ids": [2],
         "required_resources": {"GPU": 0.25}},
        {"task_id": "t2", "name": "g", "state": "PENDING_NODE_ASSIGNMENT", "type": "NORMAL_TASK", "gpu_ids": []},
    ]  # fmt: skip
    use = {g["id"]: g for g in gpu_use([0, 1, 2, 3], actors, tasks)}
    assert [use[i]["used"] for i in range(4)] == [1.0, 1.0, 0.75, 0.0]
    assert [(h["name"], h["pid"], h["amount"]) for h in use[2]["holders"]] == [("Half", 11, 0.5), ("f", 13, 0.25)]
    assert use[3]["holders"] == []


def test_resource_rows_say_used_and_free_and_skip_node_markers():
    """used = total - available; node:... resources are left out; CPU and GPU come first."""
    rows = resource_rows({"memory": 8.0, "GPU": 2.0, "CPU": 4.0, "node:1.2.3.4": 1.0, "acc": 1.0},
                         {"CPU": 1.0, "memory": 8.0})  # fmt: skip
    assert [r["name"] for r in rows] == ["CPU", "GPU", "memory", "acc"]
    assert rows[0] == {"name": "CPU", "total": 4.0, "used": 3.0, "free": 1.0}
    assert rows[1]["used"] == 2.0 and rows[3]["free"] == 0.0


def test_log_tails_are_the_last_lines_of_the_newest_files(tmp_path):
    """The newest log files first, each with its last lines only; no folder, no logs."""
    for i, name in enumerate(["worker-1.log", "worker-2.log", "worker-3.log", "notes.txt"]):
        path = tmp_path / name
        path.write_text("".join(f"{name} line {n}\n" for n in range(100)))
        os.utime(path, (1000 + i, 1000 + i))
    tails = tail_logs(str(tmp_path), files=2, lines=3)
    assert [t["file"] for t in tails] == ["worker-3.log", "worker-2.log"]
    assert tails[0]["lines"] == ["worker-3.log line 97", "worker-3.log line 98", "worker-3.log line 99"]
    assert tail_logs(None) == [] and tail_logs(str(tmp_path / "missing")) == []
