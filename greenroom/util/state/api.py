"""Ray's state API (``ray.util.state``): list, get and summarize what the node runs.

Each call is one request to the node (``Runtime.call("state", ...)``, answered
by ``runtime/node_state.py`` on its loop), so it works the same from the
driver that started the node, an attached driver, or a task. Filters and the
limit are applied on the node; records come back as ``common.py``'s classes.
"""

from __future__ import annotations

import warnings
from typing import Any

from greenroom.runtime import state
from greenroom.util.state.common import (
    DEFAULT_LIMIT,
    DEFAULT_RPC_TIMEOUT,
    SCHEMAS,
    ActorState,
    NodeState,
    ObjectState,
    PlacementGroupState,
    TaskState,
    WorkerState,
    check_filters,
    to_record,
)
from greenroom.util.state.exception import RayStateApiException

Filters = list[tuple[str, str, Any]] | None


def _runtime(address: str | None) -> Any:
    """The running runtime; with ``address`` and none running, attach there first (as Ray resolves
    an address); without either, greenroom starts a node, as every API call does."""
    if address is not None and state.current() is None:
        from greenroom.runtime.api import init

        init(address=address)
    return state.runtime()


def _list(kind: str, address: str | None, filters: Filters, limit: int, detail: bool,
          raise_on_missing_output: bool, explain: bool) -> list:  # fmt: skip
    schema = SCHEMAS[kind]
    checked = check_filters(schema, filters)
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
        raise ValueError(f"limit={limit!r}: expected a positive integer")
    answer = _runtime(address).call("state", kind, checked, limit)
    total, kept = answer["total"], answer["num_after_truncation"]
    if raise_on_missing_output and total != kept:
        raise RayStateApiException(
            f"Failed to retrieve all {total} {kind} from the node: it has {kept} of them (it keeps the "
            "last 10000 finished tasks and actor calls, and lists at most 10000 rows). Pass "
            "raise_on_missing_output=False to get the ones it has."
        )
    result = answer["result"]
    if explain and answer["num_filtered"] > len(result):
        warnings.warn(f"Limit last {len(result)} entries (Total {answer['num_filtered']}). Use `filters` to "
                      "reduce the amount of data to return, or a higher `limit` to see all of it.")  # fmt: skip
    return [to_record(schema, row, detail) for row in result]


def list_actors(address: str | None = None, filters: Filters = None, limit: int = DEFAULT_LIMIT,
                timeout: int = DEFAULT_RPC_TIMEOUT, detail: bool = False, raise_on_missing_output: bool = True,
                _explain: bool = False) -> list[ActorState]:  # fmt: skip
    """The actors of this node, alive or dead, in the order they were created.

    Args:
        address: where to attach when greenroom is not running here yet (``init(address=...)``);
            ignored when it is.
        filters: ``[(column, "=" or "!=", value), ...]``, all of which must hold, e.g.
            ``[("state", "=", "ALIVE")]``. Strings compare case-insensitively; a string value for a
            number or boolean column is converted (``("pid", "=", "1234")``).
        limit: the most records returned.
        timeout: accepted for Ray's signature; the node answers from memory.
        detail: fill the detail columns too (``required_resources``, ``death_cause``, ...).
        raise_on_missing_output: raise if the node could not list every record.
        _explain: warn when ``limit`` cut the answer short.

    Returns:
        ``ActorState`` records; each reads as a dict too (``a["state"]``). ``gpu_ids`` is
        greenroom's: the GPU ids the actor holds.

    Raises:
        ValueError: a bad filter or limit.
        RayStateApiException: the answer is incomplete and ``raise_on_missing_output``.
    """
    return _list("actors", address, filters, limit, detail, raise_on_missing_output, _explain)


def list_tasks(address: str | None = None, filters: Filters = None, limit: int = DEFAULT_LIMIT,
               timeout: int = DEFAULT_RPC_TIMEOUT, detail: bool = False, raise_on_missing_output: bool = True,
               _explain: bool = False) -> list[TaskState]:  # fmt: skip
    """Tasks, actor creations and actor calls: unfinished ones first (waiting, queued, running),
    then the finished and failed, newest first (the node keeps the last 10,000). Arguments,
    returns and raises as ``list_actors``; filter e.g. on ``("state", "=", "RUNNING")``."""
    return _list("tasks", address, filters, limit, detail, raise_on_missing_output, _explain)


def list_placement_groups(address: str | None = None, filters: Filters = None, limit: int = DEFAULT_LIMIT,
                          timeout: int = DEFAULT_RPC_TIMEOUT, detail: bool = False,
                          raise_on_missing_output: bool = True, _explain: bool = False) -> list[PlacementGroupState]:  # fmt: skip
    """Placement groups, removed ones included. Arguments as ``list_actors``."""
    return _list("placement_groups", address, filters, limit, detail, raise_on_missing_output, _explain)


def list_workers(address: str | None = None, filters: Filters = None, limit: int = DEFAULT_LIMIT,
                 timeout: int = DEFAULT_RPC_TIMEOUT, detail: bool = False, raise_on_missing_output: bool = True,
                 _explain: bool = False) -> list[WorkerState]:  # fmt: skip
    """The live worker processes (an actor's own, and the pool's). Arguments as ``list_actors``."""
    return _list("workers", address, filters, limit, detail, raise_on_missing_output, _explain)


def list_objects(address: str | None = None, filters: Filters = None, limit: int = DEFAULT_LIMIT,
                 timeout: int = DEFAULT_RPC_TIMEOUT, detail: bool = False, raise_on_missing_output: bool = True,
                 _explain: bool = False) -> list[ObjectState]:  # fmt: skip
    """The objects in the node's table, pending ones included. Arguments as ``list_actors``."""
    return _list("objects", address, filters, limit, detail, raise_on_missing_output, _explain)


def list_nodes(address: str | None = None, filters: Filters = None, limit: int = DEFAULT_LIMIT,
               timeout: int = DEFAULT_RPC_TIMEOUT, detail: bool = False, raise_on_missing_output: bool = True,
               _explain: bool = False) -> list[NodeState]:  # fmt: skip
    """The node (one). Arguments as ``list_actors``."""
    return _list("nodes", address, filters, limit, detail, raise_on_missing_output, _explain)


def _get(kind: str, column: str, id: str, address: str | None) -> list:
    return _list(kind, address, [(column, "=", id)], DEFAULT_LIMIT, True, False, False)


def get_actor(id: str, address: str | None = None, timeout: int = DEFAULT_RPC_TIMEOUT,
              _explain: bool = False) -> ActorState | None:  # fmt: skip
    """The actor with this id (hex, as ``actor._actor_id.hex()``), with detail; None if unknown."""
    found = _get("actors", "actor_id", id, address)
    return found[0] if found else None


def get_task(id: str, address: str | None = None, timeout: int = DEFAULT_RPC_TIMEOUT,
             _explain: bool = False) -> TaskState | None:  # fmt: skip
    """The task with this id, with detail; None if the node has no record of it."""
    found = _get("tasks", "task_id", id, address)
    return found[0] if found else None


def get_placement_group(id: str, address: str | None = None, timeout: int = DEFAULT_RPC_TIMEOUT,
                        _explain: bool = False) -> PlacementGroupState | None:  # fmt: skip
    """The placement group with this id, with detail; None if unknown."""
    found = _get("placement_groups", "placement_group_id", id, address)
    return found[0] if found else None


def get_worker(id: str, address: str | None = None, timeout: int = DEFAULT_RPC_TIMEOUT,
               _explain: bool = False) -> WorkerState | None:  # fmt: skip
    """The live worker with this id, with detail; None if unknown."""
    found = _get("workers", "worker_id", id, address)
    return found[0] if found else None


def get_node(id: str, address: str | None = None, timeout: int = DEFAULT_RPC_TIMEOUT,
             _explain: bool = False) -> NodeState | None:  # fmt: skip
    """The node with this id, with detail; None if unknown."""
    found = _get("nodes", "node_id", id, address)
    return found[0] if found else None


def summarize_tasks(address: str | None = None, timeout: int = DEFAULT_RPC_TIMEOUT,
                    raise_on_missing_output: bool = True, _explain: bool = False) -> dict:  # fmt: skip
    """Task counts by function (or ``Class.method``) name and state, as Ray's summary:
    ``{"cluster": {"summary": {name: {"func_or_class_name", "type", "state_counts"}},
    "total_tasks", "total_actor_tasks", "total_actor_scheduled", "summary_by"}}``.
    Finished tasks count as far as the node still remembers them."""
    return _runtime(address).call("state", "summarize_tasks")


def summarize_actors(address: str | None = None, timeout: int = DEFAULT_RPC_TIMEOUT,
                     raise_on_missing_output: bool = True, _explain: bool = False) -> dict:  # fmt: skip
    """Actor counts by class and state: ``{"cluster": {"summary": {class_name: {"class_name",
    "state_counts"}}, "total_actors", "summary_by"}}``."""
    return _runtime(address).call("state", "summarize_actors")
