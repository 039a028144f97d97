"""What the dashboard page shows, gathered in one call through the public state API.

``snapshot()`` runs in the dashboard's I/O thread of a connected driver: it reads
``greenroom.util.state``, ``cluster_resources()``/``available_resources()`` and
the Tune tables published to the node's key-value store, so it works the same
on a driver that runs the node and on one attached to a head. It never starts
a node: when greenroom is not running here it says so. ``gpu_use`` and
``tail_logs`` are pure helpers, tested on their own.
"""

from __future__ import annotations

import json
import os
import time
from typing import Any

import greenroom
from greenroom.util import _hooks
from greenroom.util.state import list_actors, list_nodes, list_placement_groups, list_tasks, summarize_tasks

TUNE_PREFIX = "tune/"
LOG_FILES = 3  # newest log files shown
LOG_LINES = 50  # last lines of each
UNFINISHED = [("state", "!=", "FINISHED"), ("state", "!=", "FAILED")]
FRESH_FINISHED_S = 60.0  # a finished Tune run stays on the page this long


def snapshot(log_dir: str | None = None) -> dict[str, Any]:
    """Everything the page shows, as JSON-ready data; ``{"running": False}`` when greenroom is not running."""
    with _hooks.running() as up:
        if not up:
            return {"running": False, "time": time.time(), "logs": tail_logs(log_dir)}
        total = greenroom.cluster_resources()
        available = greenroom.available_resources()
        actors = [a.asdict() for a in list_actors(limit=1000, detail=True, raise_on_missing_output=False)]
        unfinished = [t.asdict() for t in list_tasks(filters=UNFINISHED, limit=1000, detail=True,
                                                      raise_on_missing_output=False)]  # fmt: skip
        groups = [g.asdict() for g in list_placement_groups(limit=200, detail=True, raise_on_missing_output=False)]
        nodes = list_nodes()
        summary = summarize_tasks()["cluster"]
        tune = [json.loads(value) for key in _hooks.kv_keys(TUNE_PREFIX) if (value := _hooks.kv_get(key))]
    gpu_ids = nodes[0].gpu_ids if nodes else []
    now = time.time()
    return {
        "running": True, "time": now, "node": nodes[0].asdict() if nodes else None,
        "resources": resource_rows(total, available), "gpus": gpu_use(gpu_ids, actors, unfinished),
        "actors": actors, "tasks": unfinished, "summary": summary,
        "placement_groups": groups, "logs": tail_logs(log_dir),
        "tune": [run for run in tune if not run.get("finished") or now - run.get("updated", 0) < FRESH_FINISHED_S],
    }  # fmt: skip


def resource_rows(total: dict, available: dict) -> list[dict]:
    """[{name, total, used, free}] for each resource, the node:... markers left out."""
    rows = []
    for name in sorted(total, key=lambda n: (n not in ("CPU", "GPU", "memory"), n)):
        if name.startswith("node:"):
            continue
        free = available.get(name, 0.0)
        rows.append({"name": name, "total": total[name], "used": max(total[name] - free, 0.0), "free": free})
    return rows


def gpu_use(gpu_ids: list, actors: list[dict], tasks: list[dict]) -> list[dict]:
    """Per GPU id: how much of it is held, and by which live actor or running task.

    A holder of ``n`` GPUs over ``k`` ids holds ``n / k`` of each (a fraction on one id, or whole ones).
    """
    use = {gpu: {"id": gpu, "used": 0.0, "holders": []} for gpu in gpu_ids}
    holders = [(a, "actor", a.get("class_name")) for a in actors if a.get("state") not in ("DEAD",)]
    holders += [(t, "task", t.get("name")) for t in tasks if t.get("state") == "RUNNING" and t.get("type") == "NORMAL_TASK"]
    for record, kind, name in holders:
        ids = record.get("gpu_ids") or []
        amount = (record.get("required_resources") or {}).get("GPU", float(len(ids)))
        for gpu in ids:
            entry = use.setdefault(gpu, {"id": gpu, "used": 0.0, "holders": []})
            share = amount / len(ids)
            entry["used"] += share
            entry["holders"].append({"kind": kind, "name": name, "amount": share,
                                     "id": record.get("actor_id") if kind == "actor" else record.get("task_id"),
                                     "pid": record.get("pid") if kind == "actor" else record.get("worker_pid")})  # fmt: skip
    return list(use.values())


def tail_logs(log_dir: str | None, files: int = LOG_FILES, lines: int = LOG_LINES) -> list[dict]:
    """The last ``lines`` lines of the ``files`` most recently written ``*.log`` files in ``log_dir``."""
    if not log_dir or not os.path.isdir(log_dir):
        return []
    found = []
    for entry in os.scandir(log_dir):
        if entry.is_file() and entry.name.endswith((".log", ".out", ".err")):
            found.append((entry.stat().st_mtime, entry.path, entry.name))
    out = []
    for _mtime, path, name in sorted(found, reverse=True)[:files]:
        out.append({"file": name, "lines": _tail(path, lines)})
    return out


def _tail(path: str, lines: int, block: int = 64 * 1024) -> list[str]:
    """The last ``lines`` lines of a file, reading only its end."""
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            size = f.tell()
            f.seek(max(size - block, 0))
            data = f.read()
    except OSError:
        return []
    text = data.decode(errors="replace").splitlines()
    if size > block and text:
        text = text[1:]  # the first line read may be cut
    return text[-lines:]
