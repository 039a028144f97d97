"""greenroom: Ray's API as an asyncio actor runtime for one machine.

``import greenroom as ray`` runs a Ray core program unchanged.
"""

from greenroom import _config, actor, dag, exceptions, util
from greenroom.actors import get_actor, kill, method, remote
from greenroom.runtime import state as _state
from greenroom.runtime.api import (
    available_resources,
    cancel,
    cluster_resources,
    get,
    init,
    is_initialized,
    nodes,
    put,
    shutdown,
    timeline,
    wait,
)
from greenroom.runtime.context import get_cpu_ids, get_gpu_ids
from greenroom.runtime.generators import DynamicObjectRefGenerator, ObjectRefGenerator
from greenroom.runtime.object_ref import ObjectRef
from greenroom.runtime_context import get_runtime_context


def _connect_ray(cluster, **options):
    """init(address="ray://..." or "ray:HOST:PORT"): imports the Ray backend (and Ray) only now."""
    from greenroom.backends.ray import connect

    return connect(cluster, **options)


def _start_dashboard(host, port):
    """init(include_dashboard=True): imports the dashboard (and aiohttp) only now."""
    from greenroom.dashboard import start_dashboard

    return start_dashboard(host=host, port=port)


_state.register_backend("ray", _connect_ray)
_state.register_backend("dashboard", _start_dashboard)

__version__ = "0.1.0"

__all__ = [
    "DynamicObjectRefGenerator",
    "ObjectRef",
    "ObjectRefGenerator",
    "actor",
    "get_actor",
    "kill",
    "method",
    "available_resources",
    "cancel",
    "cluster_resources",
    "exceptions",
    "get",
    "get_cpu_ids",
    "get_gpu_ids",
    "get_runtime_context",
    "init",
    "is_initialized",
    "nodes",
    "timeline",
    "put",
    "remote",
    "shutdown",
    "util",
    "wait",
]

# A Ray worker that ran greenroom work before this import (greenroom.backends.ray.worker left a
# note): the API here runs on the Ray backend, as it would had greenroom been imported first.
if _config.in_ray_worker():
    from greenroom.backends.ray.runtime import enter_worker as _enter_ray_worker

    _enter_ray_worker()
