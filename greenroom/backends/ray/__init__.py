"""greenroom's API routed to a Ray cluster: ``init(address="ray://HOST:PORT")`` (Ray Client)
or ``init(address="ray:HOST:PORT")`` (a GCS address; or ``$RAY_ADDRESS``).

This package is the only place that imports Ray, and only once such an address is
given (``connect``). Its parts: ``ids`` (greenroom's ObjectRef and ActorHandle
carrying Ray's), ``errors`` (Ray's exceptions as greenroom's types), ``options``
(greenroom's checked options as Ray's), ``worker`` (what runs inside Ray's worker
processes), ``generators`` (Ray's streams as greenroom's generators), ``unfit``
(requests no node holds: they wait, logged once), ``cluster`` (connecting, with
bounded, explained failures) and ``runtime`` (the ``Runtime`` the public API calls).
"""

from __future__ import annotations

from typing import Any

EXTRA = "pip install 'greenroom[ray]'"


def connect(cluster: tuple[str, str], **options: Any) -> Any:
    """Connect to the Ray cluster ``cluster`` (("client"|"gcs", address)); the RayRuntime.

    Raises:
        ImportError: Ray is not installed (the message names the extra).
        ConnectionError: nothing answers at the address, or Ray refused the connection
            (version mismatch, Ray Client missing on the head): the message says what to do.
    """
    try:
        import ray  # noqa: F401
    except ImportError as e:
        raise ImportError(
            f"init(address={cluster[1]!r}) runs greenroom on a Ray cluster, which needs Ray: {EXTRA}"
        ) from e
    from greenroom.backends.ray import cluster as cluster_mod

    return cluster_mod.connect(cluster, **options)


def enter_worker() -> None:
    """In a Ray worker where greenroom is imported: greenroom's API there runs on Ray too
    (``runtime.enter_worker``; called by the wrappers of ``worker.py``)."""
    from greenroom.backends.ray import runtime

    runtime.enter_worker()
