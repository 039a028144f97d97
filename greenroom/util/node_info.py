"""What this node is, at Ray's ``ray.util`` names: its IP address and its named actors."""

from __future__ import annotations

from greenroom import _config as config
from greenroom.runtime import state


def get_node_ip_address(address: str = "8.8.8.8:53") -> str:
    """This node's IP address: the source address of its route towards ``address``.

    Nothing is sent. On a machine without a route, the address its host name
    resolves to, else ``"127.0.0.1"``.
    """
    return config.node_ip_address(address)


def list_named_actors(all_namespaces: bool = False) -> list:
    """The names of the live named actors (detached or not) in the job's namespace.

    Args:
        all_namespaces: list every namespace's named actors instead, each as
            ``{"name": name, "namespace": namespace}``.

    Returns:
        A list of names, or of dicts with ``all_namespaces=True``.
    """
    entries = state.runtime().call("list_named_actors", bool(all_namespaces))
    if all_namespaces:
        return [{"name": name, "namespace": namespace} for namespace, name in entries]
    return [name for _, name in entries]
