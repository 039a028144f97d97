"""Ray's ``ray.util.state``: what the node runs, as records (``list_actors()``, ``list_tasks()``, ...).

Import it as Ray's users do: ``from greenroom.util.state import list_actors``.
The records are in ``greenroom.util.state.common``; the error in
``greenroom.util.state.exception``.
"""

from greenroom.util.state.api import (
    get_actor,
    get_node,
    get_placement_group,
    get_task,
    get_worker,
    list_actors,
    list_nodes,
    list_objects,
    list_placement_groups,
    list_tasks,
    list_workers,
    summarize_actors,
    summarize_tasks,
)

__all__ = [
    "get_actor",
    "get_node",
    "get_placement_group",
    "get_task",
    "get_worker",
    "list_actors",
    "list_nodes",
    "list_objects",
    "list_placement_groups",
    "list_tasks",
    "list_workers",
    "summarize_actors",
    "summarize_tasks",
]
