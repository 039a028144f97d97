"""The state API's pure parts: filter checks, matching, limits, summaries, the finished-task ring, the kv store."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from greenroom import exceptions
from greenroom.runtime import serialization, wire
from greenroom.runtime.node_state import (
    KeyValue, TaskHistory, error_type, matches, select, summarize_actors, summarize_tasks,
)  # fmt: skip
from greenroom.scheduler.resources import ResourceSet
from greenroom.util.state.common import ActorState, TaskState, WorkerState, check_filters, to_record

pytestmark = pytest.mark.timeout(10)


def test_filters_are_checked_and_typed_by_column():
    """Only "=" and "!=" on filterable columns; strings become the column's int or bool, as Ray's CLI does."""
    assert check_filters(ActorState, [("state", "=", "ALIVE"), ("pid", "!=", "12")]) == [
        ["state", "=", "ALIVE"], ["pid", "!=", 12],
    ]  # fmt: skip
    assert check_filters(WorkerState, [("is_alive", "=", "True")]) == [["is_alive", "=", True]]
    assert check_filters(ActorState, None) == []
    with pytest.raises(ValueError, match="Unsupported filter predicate '>'"):
        check_filters(ActorState, [("pid", ">", 1)])
    with pytest.raises(ValueError, match="'death_cause' is not supported.*'actor_id'"):
        check_filters(ActorState, [("death_cause", "=", "x")])
    with pytest.raises(ValueError, match="not a number"):
        check_filters(ActorState, [("pid", "=", "twelve")])
    with pytest.raises(ValueError, match="not a boolean"):
        check_filters(WorkerState, [("is_alive", "=", "yes")])
    with pytest.raises(ValueError, match="tuple"):
        check_filters(ActorState, ["state=ALIVE"])


def test_matching_is_case_insensitive_for_strings_and_every_filter_must_hold():
    """("state", "=", "alive") matches ALIVE; "!=" negates; all filters AND together."""
    row = {"state": "ALIVE", "pid": 7, "name": "a"}
    assert matches(row, [["state", "=", "alive"]])
    assert not matches(row, [["state", "!=", "Alive"]])
    assert matches(row, [["pid", "=", 7], ["name", "!=", "b"]])
    assert not matches(row, [["pid", "=", 7], ["name", "=", "b"]])
    assert not matches(row, [["pid", "=", "7"]])  # typed by check_filters first, not here


def test_select_counts_each_step_and_applies_the_limit_last():
    """total, num_after_truncation, num_filtered as Ray's answer; at most ``limit`` rows."""
    rows = [{"i": i, "odd": i % 2 == 1} for i in range(10)]
    answer = select(rows, 12, [["odd", "=", True]], 3)
    assert (answer["total"], answer["num_after_truncation"], answer["num_filtered"]) == (12, 10, 5)
    assert [r["i"] for r in answer["result"]] == [1, 3, 5]


def test_records_read_as_dicts_and_leave_detail_columns_empty_unless_asked():
    """a.state and a["state"] both work; detail columns are None without detail=True."""
    row = {"actor_id": "ab", "class_name": "C", "state": "ALIVE", "pid": 3, "required_resources": {"CPU": 1.0}}
    actor = to_record(ActorState, row, detail=False)
    assert actor.state == actor["state"] == actor.get("state") == "ALIVE"
    assert actor.required_resources is None and actor.get("nope", 5) == 5
    assert to_record(ActorState, row, detail=True).required_resources == {"CPU": 1.0}
    assert actor.asdict()["pid"] == 3
    with pytest.raises(KeyError):
        actor["nope"]
    assert "gpu_ids" in ActorState.base_columns() and "events" in TaskState.detail_columns()


def test_summaries_group_by_name_and_state():
    """summarize_tasks counts per function and state, and totals per type; summarize_actors per class."""
    rows = [
        {"func_or_class_name": "f", "type": "NORMAL_TASK", "state": "FINISHED"},
        {"func_or_class_name": "f", "type": "NORMAL_TASK", "state": "RUNNING"},
        {"func_or_class_name": "f", "type": "NORMAL_TASK", "state": "FINISHED"},
        {"func_or_class_name": "A.__init__", "type": "ACTOR_CREATION_TASK", "state": "FINISHED"},
        {"func_or_class_name": "A.m", "type": "ACTOR_TASK", "state": "FAILED"},
    ]
    cluster = summarize_tasks(rows)["cluster"]
    assert cluster["summary"]["f"] == {"func_or_class_name": "f", "type": "NORMAL_TASK",
                                       "state_counts": {"FINISHED": 2, "RUNNING": 1}}  # fmt: skip
    assert (cluster["total_tasks"], cluster["total_actor_tasks"], cluster["total_actor_scheduled"]) == (3, 1, 1)
    actors = summarize_actors([{"class_name": "A", "state": "ALIVE"}, {"class_name": "A", "state": "DEAD"}])
    assert actors["cluster"]["summary"]["A"]["state_counts"] == {"ALIVE": 1, "DEAD": 1}
    assert actors["cluster"]["total_actors"] == 2


def _task(n: int) -> SimpleNamespace:
    spec = SimpleNamespace(task_id=bytes([n]) * 12, name=f"t{n}", request=ResourceSet.from_units({}),
                           placement=None, max_retries=3)  # fmt: skip
    return SimpleNamespace(spec=spec, state=SimpleNamespace(retries_left=2), assigned=[{}, [1], None], pid=40 + n,
                           created_at=1.0, started_at=2.0, job={"job_id": f"0{n}000000"})  # fmt: skip


def test_the_finished_task_ring_keeps_the_newest_and_counts_what_it_dropped():
    """Past its size the oldest records go, newest first in rows(), and ``dropped`` says how many."""
    history = TaskHistory(size=2)
    failed = serialization.dumps(exceptions.TaskCancelledError("cancelled"))
    history.task_ended(_task(1), wire.VALUE, [b""])
    history.task_ended(_task(2), wire.SYSTEM_ERROR, [failed])
    history.task_ended(_task(3), wire.TASK_ERROR, [b"opaque"])
    rows = list(history.rows())
    assert [r["name"] for r in rows] == ["t3", "t2"] and history.dropped == 1
    assert [r["state"] for r in rows] == ["FAILED", "FAILED"]
    assert [r["error_type"] for r in rows] == ["TASK_EXECUTION_EXCEPTION", "TASK_CANCELLED"]
    assert rows[0]["worker_pid"] == 43 and rows[0]["gpu_ids"] == [1] and rows[0]["attempt_number"] == 1
    assert [r["job_id"] for r in rows] == ["03000000", "02000000"]  # each its own job's
    assert rows[0]["start_time_ms"] < rows[0]["end_time_ms"]


def test_error_types_name_greenrooms_errors_without_unpickling_a_tasks_own():
    """A task's exception is TASK_EXECUTION_EXCEPTION unread; greenroom's errors map to Ray's names."""
    assert error_type(wire.VALUE, b"") is None
    assert error_type(wire.TASK_ERROR, b"not a pickle") == "TASK_EXECUTION_EXCEPTION"
    assert error_type(wire.SYSTEM_ERROR, serialization.dumps(exceptions.WorkerCrashedError("x"))) == "WORKER_DIED"
    assert error_type(wire.SYSTEM_ERROR, b"garbage") == "SYSTEM_ERROR"


def test_the_key_value_store_is_bounded():
    """Values above the size cap and keys past the count cap are refused, naming the cap."""
    kv = KeyValue(max_keys=2, max_value=4)
    assert kv.put("tune/a", b"1") and kv.get("tune/a") == b"1"
    assert not kv.put("tune/a", b"2", overwrite=False) and kv.get("tune/a") == b"1"
    kv.put("other", b"3")
    assert kv.keys("tune/") == ["tune/a"]
    with pytest.raises(ValueError, match="full \\(2 keys\\)"):
        kv.put("third", b"")
    with pytest.raises(ValueError, match="at most 4"):
        kv.put("tune/a", b"12345")
    assert kv.delete("other") and not kv.delete("other") and kv.get("other") is None
