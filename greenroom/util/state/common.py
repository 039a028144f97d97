"""The state API's records, at Ray's path ``ray.util.state.common``, and its filter checks.

Each record is a dataclass with Ray's field names that also reads like a dict
(``actor.state`` and ``actor["state"]``, ``.get()``, ``asdict()``), as Ray's
are. Columns marked ``detail`` are None unless ``detail=True`` was passed.
greenroom adds a few columns Ray lacks, marked below (``gpu_ids`` above all).
Pure: no I/O, nothing of the runtime.
"""

from __future__ import annotations

import dataclasses
import typing
from dataclasses import dataclass, field, fields
from typing import Any

DEFAULT_LIMIT = 100
DEFAULT_RPC_TIMEOUT = 30
PREDICATES = ("=", "!=")


def state_column(*, filterable: bool, detail: bool = False, **kwargs: Any) -> Any:
    """A dataclass field that says whether it can be filtered on and whether it is a detail column."""
    kwargs.setdefault("default", None)
    return field(metadata={"filterable": filterable, "detail": detail}, **kwargs)


class StateSchema:
    """What every record has: dict-style reads, and its columns by kind."""

    @classmethod
    def list_columns(cls, detail: bool = True) -> list[str]:
        return [f.name for f in fields(cls) if detail or not f.metadata.get("detail")]

    @classmethod
    def columns(cls) -> set[str]:
        return set(cls.list_columns())

    @classmethod
    def filterable_columns(cls) -> set[str]:
        return {f.name for f in fields(cls) if f.metadata.get("filterable")}

    @classmethod
    def base_columns(cls) -> set[str]:
        return set(cls.list_columns(detail=False))

    @classmethod
    def detail_columns(cls) -> set[str]:
        return cls.columns()

    def asdict(self) -> dict:
        return dataclasses.asdict(self)

    def __getitem__(self, key: str) -> Any:
        try:
            return getattr(self, key)
        except AttributeError:
            raise KeyError(key) from None

    def __setitem__(self, key: str, value: Any) -> None:
        setattr(self, key, value)

    def get(self, key: str, default: Any = None) -> Any:
        return getattr(self, key, default)


@dataclass
class ActorState(StateSchema):
    """An actor. ``state``: DEPENDENCIES_UNREADY, PENDING_CREATION, ALIVE, RESTARTING or DEAD."""

    actor_id: str = state_column(filterable=True)
    class_name: str = state_column(filterable=True)
    state: str = state_column(filterable=True)
    job_id: str = state_column(filterable=True)
    name: str | None = state_column(filterable=True)
    node_id: str | None = state_column(filterable=True)
    pid: int | None = state_column(filterable=True)  # 0 until its process started
    ray_namespace: str | None = state_column(filterable=True)
    gpu_ids: list | None = state_column(filterable=False)  # greenroom: the GPU ids it holds
    serialized_runtime_env: str | None = state_column(filterable=False, detail=True)
    required_resources: dict | None = state_column(filterable=False, detail=True)
    death_cause: dict | None = state_column(filterable=False, detail=True)
    is_detached: bool | None = state_column(filterable=False, detail=True)
    placement_group_id: str | None = state_column(filterable=True, detail=True)
    repr_name: str | None = state_column(filterable=True, detail=True)
    num_restarts: int | None = state_column(filterable=False, detail=True)
    num_restarts_due_to_lineage_reconstruction: int | None = state_column(filterable=False, detail=True)
    call_site: str | None = state_column(filterable=False, detail=True)


@dataclass
class TaskState(StateSchema):
    """A task, actor creation or actor call (``type``: NORMAL_TASK, ACTOR_CREATION_TASK, ACTOR_TASK).

    ``state``: PENDING_ARGS_AVAIL (waiting for its ObjectRef arguments), PENDING_NODE_ASSIGNMENT
    (waiting for resources), SUBMITTED_TO_WORKER (its worker is starting, or it waits behind the
    task before it there), PENDING_ACTOR_TASK_ORDERING_OR_CONCURRENCY (an actor call behind
    others), RUNNING, FINISHED or FAILED.
    """

    task_id: str = state_column(filterable=True)
    attempt_number: int = state_column(filterable=True)
    name: str = state_column(filterable=True)
    state: str = state_column(filterable=True)
    job_id: str = state_column(filterable=True)
    actor_id: str | None = state_column(filterable=True)
    type: str = state_column(filterable=True)
    func_or_class_name: str = state_column(filterable=True)
    parent_task_id: str | None = state_column(filterable=True)
    node_id: str | None = state_column(filterable=True)
    worker_id: str | None = state_column(filterable=True)
    worker_pid: int | None = state_column(filterable=True)
    error_type: str | None = state_column(filterable=True)
    gpu_ids: list | None = state_column(filterable=False)  # greenroom: the GPU ids it holds
    language: str | None = state_column(filterable=True, detail=True)
    required_resources: dict | None = state_column(filterable=False, detail=True)
    runtime_env_info: dict | None = state_column(filterable=False, detail=True)
    placement_group_id: str | None = state_column(filterable=True, detail=True)
    events: list | None = state_column(filterable=False, detail=True)
    profiling_data: dict | None = state_column(filterable=False, detail=True)
    creation_time_ms: int | None = state_column(filterable=False, detail=True)
    start_time_ms: int | None = state_column(filterable=False, detail=True)
    end_time_ms: int | None = state_column(filterable=False, detail=True)
    task_log_info: dict | None = state_column(filterable=False, detail=True)
    error_message: str | None = state_column(filterable=False, detail=True)


@dataclass
class PlacementGroupState(StateSchema):
    """A placement group. ``state``: PENDING, CREATED or REMOVED."""

    placement_group_id: str = state_column(filterable=True)
    name: str = state_column(filterable=True)
    creator_job_id: str = state_column(filterable=True)
    state: str = state_column(filterable=True)
    strategy: str | None = state_column(filterable=True)  # greenroom: PACK, SPREAD, ...
    bundles: list | None = state_column(filterable=False, detail=True)
    is_detached: bool | None = state_column(filterable=True, detail=True)
    stats: dict | None = state_column(filterable=False, detail=True)


@dataclass
class WorkerState(StateSchema):
    """A worker process. greenroom lists the live ones (``worker_type`` WORKER)."""

    worker_id: str = state_column(filterable=True)
    is_alive: bool = state_column(filterable=True)
    worker_type: str = state_column(filterable=True)
    exit_type: str | None = state_column(filterable=True)
    node_id: str = state_column(filterable=True)
    ip: str = state_column(filterable=True)
    pid: int = state_column(filterable=True)
    actor_id: str | None = state_column(filterable=True)  # greenroom: the actor it hosts
    task_id: str | None = state_column(filterable=True)  # greenroom: the task it runs
    exit_detail: str | None = state_column(filterable=False, detail=True)
    worker_launch_time_ms: int | None = state_column(filterable=False, detail=True)
    worker_launched_time_ms: int | None = state_column(filterable=False, detail=True)
    start_time_ms: int | None = state_column(filterable=False, detail=True)
    end_time_ms: int | None = state_column(filterable=False, detail=True)
    debugger_port: int | None = state_column(filterable=True, detail=True)
    num_paused_threads: int | None = state_column(filterable=True, detail=True)


@dataclass
class ObjectState(StateSchema):
    """An object in the node's table. ``call_site``: the name of the task that makes it."""

    object_id: str = state_column(filterable=True)
    object_size: int | None = state_column(filterable=True)  # bytes; None while pending
    task_status: str = state_column(filterable=True)
    reference_type: str = state_column(filterable=True)
    call_site: str = state_column(filterable=True)
    type: str = state_column(filterable=True)
    pid: int | None = state_column(filterable=True)
    ip: str = state_column(filterable=True)


@dataclass
class NodeState(StateSchema):
    """The node (greenroom runs one)."""

    node_id: str = state_column(filterable=True)
    node_ip: str = state_column(filterable=True)
    is_head_node: bool = state_column(filterable=True)
    state: str = state_column(filterable=True)
    state_message: str | None = state_column(filterable=False)
    node_name: str = state_column(filterable=True)
    resources_total: dict = state_column(filterable=False)
    labels: dict = state_column(filterable=False)
    gpu_ids: list | None = state_column(filterable=False)  # greenroom: the GPU ids its workers see
    start_time_ms: int | None = state_column(filterable=False, detail=True)
    end_time_ms: int | None = state_column(filterable=False, detail=True)


SCHEMAS: dict[str, type[StateSchema]] = {
    "actors": ActorState, "tasks": TaskState, "placement_groups": PlacementGroupState,
    "workers": WorkerState, "objects": ObjectState, "nodes": NodeState,
}  # fmt: skip


def _column_type(schema: type[StateSchema], column: str) -> Any:
    hints = typing.get_type_hints(schema)
    kinds = [t for t in typing.get_args(hints[column]) or (hints[column],) if t is not type(None)]
    return kinds[0] if kinds else str


def check_filters(schema: type[StateSchema], filters: Any) -> list[list]:
    """Ray's filters, checked and typed: ``[(column, "=" or "!=", value), ...]`` ->
    ``[[column, predicate, value], ...]`` with values of the column's type (``("pid", "=", "1234")``
    compares as 1234, ``("is_alive", "=", "true")`` as True, as Ray's CLI strings do).

    Raises:
        ValueError: a predicate other than "=" and "!=", a column that cannot be filtered on, or a
            value that is not of the column's type.
    """
    out = []
    for item in filters or []:
        try:
            column, predicate, value = item
        except (TypeError, ValueError):
            raise ValueError(f"filter {item!r}: expected a (column, predicate, value) tuple, "
                             "like ('state', '=', 'ALIVE')") from None  # fmt: skip
        if predicate not in PREDICATES:
            raise ValueError(f"Unsupported filter predicate {predicate!r} is given. Available predicates: =, !=.")
        if column not in schema.filterable_columns():
            raise ValueError(
                f"The given filter column {column!r} is not supported for {schema.__name__}. "
                f"Supported filter columns: {sorted(schema.filterable_columns())}"
            )
        out.append([column, predicate, _typed(schema, column, value)])
    return out


def _typed(schema: type[StateSchema], column: str, value: Any) -> Any:
    kind = _column_type(schema, column)
    if not isinstance(value, str) or kind is str:
        return value
    if kind is bool:
        if value.lower() not in ("true", "false"):
            raise ValueError(f"filter on {column!r}: {value!r} is not a boolean (true or false)")
        return value.lower() == "true"
    if kind in (int, float):
        try:
            return kind(value)
        except ValueError:
            raise ValueError(f"filter on {column!r}: {value!r} is not a number") from None
    return value


def to_record(schema: type[StateSchema], row: dict, detail: bool) -> StateSchema:
    """A record from a node row; detail columns are None unless ``detail``."""
    columns = schema.columns() if detail else schema.base_columns()
    return schema(**{name: row.get(name) for name in columns})
