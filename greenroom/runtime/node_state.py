"""What the node can tell about itself: rows for the state API, and a small key-value store.

``greenroom.util.state`` (``list_actors()``, ``list_tasks()``, ...) and the
dashboard ask through one node method, ``Node.api_state(op, *args)``, which
lands in ``NodeState.answer``. Rows are built on the loop thread from the
collaborators' own records (nothing is copied as work happens) as plain dicts
with Ray's field names, ids in hex, ready to cross a socket to an attached
driver. Filters and limits are applied here, so only what was asked for
travels; the client checks and types the filters first (util/state/common.py).

Two things are kept only for this module, both bounded:

- ``TaskHistory``: the last ``HISTORY_SIZE`` finished tasks and actor calls
  (a ring: the oldest go first; ``dropped`` counts them, so a listing can say
  it is incomplete, as Ray's does past its data-source limit).
- ``KeyValue``: small values under string keys, for greenroom's own libraries:
  Tune publishes its trial table there for the dashboard. Bounded in keys and
  value size; values are bytes.
"""

from __future__ import annotations

import collections
import os
import time
from typing import Any

from greenroom import exceptions
from greenroom.runtime import serialization, wire
from greenroom.runtime.actor_state import ALIVE, DEAD, PENDING, RESTARTING
from greenroom.runtime.task_state import FOLLOWING, QUEUED, RUNNING, STARTING, WAITING

HISTORY_SIZE = 10_000  # finished tasks and actor calls kept
MAX_ROWS = 10_000  # rows built per listing at most (Ray's RAY_MAX_LIMIT_FROM_DATA_SOURCE)
KV_MAX_KEYS = 1_000
KV_MAX_VALUE = 1 << 20

TASK_PHASES = {  # TaskState.phase -> Ray's TaskStatus name
    WAITING: "PENDING_ARGS_AVAIL", QUEUED: "PENDING_NODE_ASSIGNMENT", FOLLOWING: "SUBMITTED_TO_WORKER",
    STARTING: "SUBMITTED_TO_WORKER", RUNNING: "RUNNING",
}  # fmt: skip
_ERROR_TYPES = [  # greenroom's exception -> Ray's ErrorType name, for a failed task's error_type
    (exceptions.OutOfMemoryError, "OUT_OF_MEMORY"), (exceptions.TaskCancelledError, "TASK_CANCELLED"),
    (exceptions.WorkerCrashedError, "WORKER_DIED"), (exceptions.ActorDiedError, "ACTOR_DIED"),
    (exceptions.TaskUnschedulableError, "TASK_UNSCHEDULABLE_ERROR"), (exceptions.ObjectLostError, "OBJECT_LOST"),
]  # fmt: skip


def error_type(kind: int, payload: Any) -> str | None:
    """Ray's ``error_type`` of an outcome: None for a value. A task's own exception is not
    unpickled here (its class may not import in this process); greenroom's errors are."""
    if kind == wire.VALUE:
        return None
    if kind == wire.TASK_ERROR:
        return "TASK_EXECUTION_EXCEPTION"
    try:
        error = serialization.loads(payload)
    except Exception:
        return "SYSTEM_ERROR"
    return next((name for cls, name in _ERROR_TYPES if isinstance(error, cls)), "SYSTEM_ERROR")


class TaskHistory:
    """The last ``size`` finished tasks and actor calls (see the module docstring).

    Recording is on every task's path, so it appends one tuple of what the records already
    hold; rows are built from them only when asked for."""

    def __init__(self, size: int = HISTORY_SIZE) -> None:
        self.entries: collections.deque = collections.deque(maxlen=size)
        self.dropped = 0
        self.epoch = time.time() - time.monotonic()  # loop clock (uvloop's is monotonic) -> wall clock

    def _add(self, entry: tuple) -> None:
        if len(self.entries) == self.entries.maxlen:
            self.dropped += 1
        self.entries.append(entry)

    def ms(self, loop_time: float) -> int | None:
        return int((self.epoch + loop_time) * 1000) if loop_time else None

    def task_ended(self, task: Any, kind: int, payloads: list) -> None:
        """A remote function task finished (``task``: node_tasks.TaskRecord). Its spec is not
        kept (it holds the arguments): only what a row shows."""
        spec = task.spec
        if type(kind) is list:  # values, then the error it raised part-way
            kind, payloads = wire.TASK_ERROR, payloads[-1:]
        error = None if kind == wire.VALUE else error_type(kind, payloads[0] if payloads else None)
        self._add((spec.task_id, spec.name, spec.request, spec.placement,
                   _attempt(spec.max_retries, task.state.retries_left), task.assigned, task.pid,
                   task.created_at, task.started_at, time.monotonic(), error, kind, _job_id(task.job)))  # fmt: skip

    def call_ended(self, call: Any, kind: int, payloads: list) -> None:
        """An actor call finished (``call``: actor_records.Call; ``call.actor`` its ActorRecord)."""
        if type(kind) is list:  # values, then the error it raised part-way
            kind, payloads = wire.TASK_ERROR, payloads[-1:]
        error = None if kind == wire.VALUE else error_type(kind, payloads[0] if payloads else None)
        self._add((call.task_id, call.name, call.actor, None, 0, None, None,
                   call.created_at, call.sent_at, time.monotonic(), error, kind, None))  # fmt: skip

    def rows(self):
        """The finished, newest first, as rows."""
        ms = self.ms
        for task_id, name, what, placement, attempt, assigned, pid, created, started, ended, error, kind, job_id in \
                reversed(self.entries):  # fmt: skip
            status = "FINISHED" if kind == wire.VALUE else "FAILED"
            if what is None or hasattr(what, "spec"):  # an actor call: ``what`` is its ActorRecord
                row = _call_dict(task_id, name, what, status)
            else:  # a task: ``what`` is its request
                row = _task_dict(task_id, name, what, placement, attempt, status, assigned, pid, None)
                row["job_id"] = job_id
            row.update(creation_time_ms=ms(created), start_time_ms=ms(started), end_time_ms=ms(ended),
                       error_type=error)  # fmt: skip
            yield row


def _hex(placement: Any) -> str | None:
    return placement[0] if placement else None


def task_row(task: Any, status: str, history: TaskHistory) -> dict:
    """A remote function task still on the node (``task``: node_tasks.TaskRecord)."""
    spec, w = task.spec, task.worker
    row = _task_dict(spec.task_id, spec.name, spec.request, spec.placement,
                     _attempt(spec.max_retries, task.state.retries_left), status, task.assigned,
                     w.pid if w is not None else None, w)  # fmt: skip
    row.update(creation_time_ms=history.ms(task.created_at), start_time_ms=history.ms(task.started_at),
               job_id=_job_id(task.job))  # fmt: skip
    return row


def _job_id(job: dict | None) -> str | None:
    return job["job_id"] if job else None


def _task_dict(task_id: bytes, name: str, request: Any, placement: Any, attempt: int, status: str,
               assigned: Any, pid: Any, worker: Any) -> dict:  # fmt: skip
    return {
        "task_id": task_id.hex(), "attempt_number": attempt, "name": name, "state": status,
        "type": "NORMAL_TASK", "func_or_class_name": name, "actor_id": None, "parent_task_id": None,
        "worker_pid": pid, "worker_id": f"{worker.id:x}" if worker is not None else None, "error_type": None,
        "language": "PYTHON", "required_resources": request.to_dict(), "placement_group_id": _hex(placement),
        "gpu_ids": list(assigned[1]) if assigned else [], "creation_time_ms": None, "start_time_ms": None,
        "end_time_ms": None,
    }  # fmt: skip


def call_row(call: Any, status: str, history: TaskHistory) -> dict:
    """An actor call still on the node (``call``: actor_records.Call)."""
    row = _call_dict(call.task_id, call.name, call.actor, status)
    row.update(creation_time_ms=history.ms(call.created_at), start_time_ms=history.ms(call.sent_at))
    return row


def _call_dict(task_id: bytes, name: str, rec: Any, status: str) -> dict:
    worker = rec.worker if rec is not None else None
    return {
        "task_id": task_id.hex(), "attempt_number": 0, "name": name, "state": status,
        "type": "ACTOR_TASK", "func_or_class_name": name,
        "actor_id": rec.spec.actor_id.hex() if rec is not None else None, "parent_task_id": None,
        "worker_pid": rec.pid if rec is not None else None, "worker_id": f"{worker.id:x}" if worker else None,
        "error_type": None, "language": "PYTHON", "required_resources": {},
        "placement_group_id": _hex(rec.placement) if rec is not None else None,
        "gpu_ids": list(rec.assigned[1]) if rec is not None and rec.assigned else [],
        "creation_time_ms": None, "start_time_ms": None, "end_time_ms": None,
        "job_id": _job_id(rec.job) if rec is not None else None,
    }  # fmt: skip


def _attempt(max_retries: int, retries_left: float) -> int:
    return 0 if max_retries < 0 else int(max_retries - retries_left)


def matches(row: dict, filters: list) -> bool:
    """Every ``[column, "=" or "!=", value]`` holds for ``row``; strings compare case-insensitively."""
    for column, predicate, value in filters:
        have = row.get(column)
        if isinstance(have, str) and isinstance(value, str):
            equal = have.casefold() == value.casefold()
        else:
            equal = have == value
        if equal != (predicate == "="):
            return False
    return True


def select(rows: list, total: int, filters: list, limit: int) -> dict:
    """Ray's list answer: counts at each step, and at most ``limit`` rows that pass ``filters``."""
    kept = [row for row in rows if matches(row, filters)]
    return {"total": total, "num_after_truncation": len(rows), "num_filtered": len(kept),
            "result": kept[:limit]}  # fmt: skip


def summarize_tasks(rows: list) -> dict:
    """Ray's ``summarize_tasks()`` answer for this node's task rows, grouped by function name."""
    summary: dict = {}
    totals = {"NORMAL_TASK": 0, "ACTOR_TASK": 0, "ACTOR_CREATION_TASK": 0}
    for row in rows:
        name = row["func_or_class_name"]
        entry = summary.setdefault(name, {"func_or_class_name": name, "type": row["type"], "state_counts": {}})
        entry["state_counts"][row["state"]] = entry["state_counts"].get(row["state"], 0) + 1
        totals[row["type"]] = totals.get(row["type"], 0) + 1
    return {"cluster": {
        "summary": summary, "total_tasks": totals["NORMAL_TASK"], "total_actor_tasks": totals["ACTOR_TASK"],
        "total_actor_scheduled": totals["ACTOR_CREATION_TASK"], "summary_by": "func_name",
    }}  # fmt: skip


def summarize_actors(rows: list) -> dict:
    """Ray's ``summarize_actors()`` answer, grouped by class name."""
    summary: dict = {}
    for row in rows:
        entry = summary.setdefault(row["class_name"], {"class_name": row["class_name"], "state_counts": {}})
        entry["state_counts"][row["state"]] = entry["state_counts"].get(row["state"], 0) + 1
    return {"cluster": {"summary": summary, "total_actors": len(rows), "summary_by": "class"}}


class KeyValue:
    """Small values under string keys (see the module docstring)."""

    def __init__(self, max_keys: int = KV_MAX_KEYS, max_value: int = KV_MAX_VALUE) -> None:
        self.values: dict[str, bytes] = {}
        self.max_keys = max_keys
        self.max_value = max_value

    def put(self, key: str, value: bytes, overwrite: bool = True) -> bool:
        """Store ``value``; False (nothing stored) if ``key`` exists and not ``overwrite``."""
        if len(value) > self.max_value:
            raise ValueError(f"value for key {key!r} is {len(value)} bytes; the node keeps at most "
                             f"{self.max_value} per key")  # fmt: skip
        if key not in self.values and len(self.values) >= self.max_keys:
            raise ValueError(f"the node's key-value store is full ({self.max_keys} keys); delete some first")
        if key in self.values and not overwrite:
            return False
        self.values[key] = bytes(value)
        return True

    def get(self, key: str) -> bytes | None:
        return self.values.get(key)

    def delete(self, key: str) -> bool:
        return self.values.pop(key, None) is not None

    def keys(self, prefix: str) -> list[str]:
        return sorted(k for k in self.values if k.startswith(prefix))


class NodeState:
    """Answers ``Node.api_state``: builds rows from the node's collaborators on the loop thread."""

    def __init__(self, node: Any) -> None:
        self.node = node
        self.history = TaskHistory()
        self.kv = KeyValue()

    def answer(self, op: str, *args: Any) -> Any:
        """``op``: "actors", "tasks", "placement_groups", "workers", "objects", "nodes" with
        (filters, limit) -> Ray's list answer; "summarize_tasks", "summarize_actors"; "kv_put"
        (key, value, overwrite), "kv_get" (key), "kv_del" (key), "kv_keys" (prefix)."""
        if op.startswith("kv_"):
            return getattr(self.kv, {"kv_put": "put", "kv_get": "get", "kv_del": "delete", "kv_keys": "keys"}[op])(*args)
        if op == "summarize_tasks":
            return summarize_tasks(self._rows("tasks")[0])
        if op == "summarize_actors":
            return summarize_actors(self._rows("actors")[0])
        filters, limit = args
        rows, total = self._rows(op)
        return select(rows, total, filters, limit)

    def _rows(self, kind: str) -> tuple[list, int]:
        """(rows, how many there are in all): at most MAX_ROWS rows are built."""
        build = {"actors": self.actors, "tasks": self.tasks, "placement_groups": self.placement_groups,
                 "workers": self.workers, "objects": self.objects, "nodes": self.nodes}.get(kind)  # fmt: skip
        if build is None:
            raise ValueError(f"no state of kind {kind!r}")
        rows, total = [], self.history.dropped if kind == "tasks" else 0
        for row in build():
            total += 1
            if len(rows) < MAX_ROWS:
                rows.append(row)
        return rows, total

    # -- the rows ---------------------------------------------------------------------------
    def _job(self) -> dict:
        return self.node.job

    def actors(self):
        job = self._job()
        for rec in self.node.actors.actors.values():
            yield self.actor_row(rec, rec.job or job)

    def actor_row(self, rec: Any, job: dict) -> dict:
        s, phase = rec.spec, rec.state.state
        if phase == PENDING:
            state = "DEPENDENCIES_UNREADY" if rec.deps_pending else "PENDING_CREATION"
        else:
            state = {ALIVE: "ALIVE", RESTARTING: "RESTARTING", DEAD: "DEAD"}[phase]
        death = rec.state.death_reason if phase == DEAD else None
        return {
            "actor_id": s.actor_id.hex(), "class_name": s.class_name, "state": state, "job_id": job["job_id"],
            "name": s.name or "", "node_id": job["node_id"], "pid": rec.pid or 0, "ray_namespace": s.namespace,
            "serialized_runtime_env": "{}", "required_resources": rec.request.to_dict(),
            "death_cause": {"actor_died_error_context": {"error_message": death}} if death else None,
            "is_detached": bool(s.detached), "placement_group_id": _hex(rec.placement), "repr_name": "",
            "num_restarts": rec.state.restarts, "num_restarts_due_to_lineage_reconstruction": 0,
            "call_site": None, "gpu_ids": list(rec.assigned[1]) if rec.assigned else [],
        }  # fmt: skip

    def tasks(self):
        """Unfinished work first (tasks, actor creations, actor calls), then the finished, newest first."""
        job = self._job()
        for row in self._task_rows():
            row["job_id"] = row.get("job_id") or job["job_id"]  # None: the node's own (or unknown)
            row["node_id"] = job["node_id"]
            yield row

    def _task_rows(self):
        history = self.history
        for task in list(self.node.tasks.records.values()):
            yield task_row(task, TASK_PHASES.get(task.state.phase, "NIL"), history)
        job = self._job()
        for rec in self.node.actors.actors.values():
            yield self.creation_row(rec, rec.job or job)
            inflight = rec.state.inflight
            for call in list(rec.calls.values()):
                if call.deps_pending:
                    status = "PENDING_ARGS_AVAIL"
                elif call.task_id in inflight:
                    status = "RUNNING"
                else:
                    status = "PENDING_ACTOR_TASK_ORDERING_OR_CONCURRENCY"
                yield call_row(call, status, history)
        yield from history.rows()

    def creation_row(self, rec: Any, job: dict) -> dict:
        """An actor's creation task, as Ray lists it (its id is the actor's: greenroom's constructor
        call is keyed by the actor id)."""
        s, phase = rec.spec, rec.state.state
        if phase == PENDING:
            status = ("PENDING_ARGS_AVAIL" if rec.deps_pending else
                      "PENDING_NODE_ASSIGNMENT" if not rec.granted else
                      "SUBMITTED_TO_WORKER" if not rec.init_sent_at else "RUNNING")  # fmt: skip
        elif phase == DEAD and not rec.created:
            status = "FAILED"
        elif phase == RESTARTING:
            status = "RUNNING"
        else:
            status = "FINISHED"
        ms = self.history.ms
        return {
            "task_id": s.actor_id.hex(), "attempt_number": rec.state.restarts, "name": f"{s.class_name}.__init__",
            "state": status, "type": "ACTOR_CREATION_TASK", "func_or_class_name": f"{s.class_name}.__init__",
            "actor_id": s.actor_id.hex(), "parent_task_id": None, "worker_pid": rec.pid,
            "worker_id": None, "error_type": "ACTOR_CREATION_FAILED" if status == "FAILED" else None,
            "language": "PYTHON", "required_resources": rec.request.to_dict(),
            "placement_group_id": _hex(rec.placement), "gpu_ids": list(rec.assigned[1]) if rec.assigned else [],
            "creation_time_ms": ms(rec.created_at), "start_time_ms": ms(rec.init_sent_at), "end_time_ms": None,
            "job_id": job["job_id"],
        }  # fmt: skip

    def placement_groups(self):
        node = self.node
        scheduler, job = node.scheduler, self._job()
        for pg_id, group in node.placement.groups.items():
            state = "REMOVED" if group.removed else scheduler.placement_group_state(pg_id)
            yield {
                "placement_group_id": pg_id, "name": group.name or "", "creator_job_id": job["job_id"],
                "state": state, "strategy": group.strategy, "is_detached": bool(group.detached), "stats": None,
                "bundles": [{"bundle_id": f"{pg_id}:{i}", "node_id": job["node_id"], "unit_resources": b.to_dict()}
                            for i, b in enumerate(group.bundles)],
            }  # fmt: skip

    def workers(self):
        job = self._job()
        for w in list(self.node.pool.workers.values()):
            actor = w.actor
            yield {
                "worker_id": f"{w.id:x}", "is_alive": bool(w.alive), "worker_type": "WORKER", "exit_type": None,
                "node_id": job["node_id"], "ip": job["node_ip"], "pid": w.pid or 0, "exit_detail": None,
                "worker_launch_time_ms": None, "worker_launched_time_ms": None, "start_time_ms": None,
                "end_time_ms": None, "debugger_port": None, "num_paused_threads": None,
                "actor_id": actor.spec.actor_id.hex() if actor is not None else None,
                "task_id": w.task.spec.task_id.hex() if w.task is not None else None, "ready": bool(w.ready),
            }  # fmt: skip

    def objects(self):
        node = self.node
        job, workers, records = self._job(), node.pool.workers, node.tasks.records
        for oid, entry in list(node.objects.entries.items()):
            if entry.kind is None:
                task = records.get(oid[:12])
                status = TASK_PHASES.get(task.state.phase, "NIL") if task is not None else "SUBMITTED_TO_WORKER"
            else:
                status = "FINISHED"
            owner = min(entry.holders) if entry.holders else None
            worker = workers.get(owner) if owner else None
            yield {
                "object_id": oid.hex(), "object_size": _size(entry.payload), "task_status": status,
                "reference_type": _reference_type(entry), "call_site": entry.name or "disabled",
                "type": "DRIVER" if owner == 0 else "WORKER", "pid": worker.pid if worker is not None else None,
                "ip": job["node_ip"],
            }  # fmt: skip

    def nodes(self):
        node, job = self.node, self._job()
        names = node.assigned.gpu_names
        count = int(node.scheduler.total.to_dict().get("GPU", 0))
        gpu_ids = [int(n) if n.isdigit() else n for n in names[:count]] if names else list(range(count))
        yield {
            "node_id": job["node_id"], "node_ip": job["node_ip"], "is_head_node": True, "state": "ALIVE",
            "state_message": None, "node_name": job["node_ip"], "resources_total": node.scheduler.total.to_dict(),
            "labels": {}, "start_time_ms": None, "end_time_ms": None, "gpu_ids": gpu_ids, "pid": os.getpid(),
        }  # fmt: skip


def _size(payload: Any) -> int | None:
    if payload is None:
        return None
    if isinstance(payload, list):  # [header, offset, lengths, id]: its buffers are in shared memory
        return len(payload[0]) + sum(payload[2])
    return len(payload)


def _reference_type(entry: Any) -> str:
    if entry.permanent:
        return "PINNED_IN_MEMORY"
    if entry.holders:
        return "LOCAL_REFERENCE"
    if entry.pins:
        return "USED_BY_PENDING_TASK"
    return "UNKNOWN_STATUS"
