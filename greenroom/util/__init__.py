"""Ray's ``ray.util`` paths: placement groups, ActorPool, result helpers and node information.

``register_serializer`` / ``deregister_serializer`` (also at ``greenroom.util.serialization``) and
``inspect_serializability`` (also at ``greenroom.util.check_serialize``).

Also at Ray's paths, imported on use: ``greenroom.util.queue`` (Queue, Empty,
Full), ``greenroom.util.multiprocessing`` (Pool) and
``greenroom.util.scheduling_strategies``.
"""

from greenroom.util.actor_pool import ActorPool
from greenroom.util.check_serialize import inspect_serializability
from greenroom.util.helpers import as_completed, map_unordered
from greenroom.util.node_info import get_node_ip_address, list_named_actors
from greenroom.util.placement_group import (
    PlacementGroup,
    get_current_placement_group,
    get_placement_group,
    placement_group,
    placement_group_table,
    remove_placement_group,
)
from greenroom.util.serialization import deregister_serializer, register_serializer

__all__ = [
    "ActorPool",
    "PlacementGroup",
    "as_completed",
    "deregister_serializer",
    "get_current_placement_group",
    "get_node_ip_address",
    "get_placement_group",
    "inspect_serializability",
    "list_named_actors",
    "map_unordered",
    "placement_group",
    "placement_group_table",
    "register_serializer",
    "remove_placement_group",
]
