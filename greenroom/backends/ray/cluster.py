"""Connecting the driver to a Ray cluster, with failures explained and bounded in time.

Before Ray is asked to connect, the address is probed with one TCP connect of at
most ``PROBE_TIMEOUT_S``: nothing listening is reported at once with what to
check, instead of Ray's own retries (a minute, for a GCS address). Ray's refusal
of a driver whose Ray or Python version differs from the cluster's becomes a
``ConnectionError`` saying which versions to install.
"""

from __future__ import annotations

import socket
from typing import Any

import ray

from greenroom.backends.ray import EXTRA
from greenroom.backends.ray.runtime import RayRuntime, install

PROBE_TIMEOUT_S = 5.0


def _host_port(address: str) -> tuple[str, int]:
    host, _, port = address.removeprefix("ray://").rpartition(":")
    if not host or not port.isdigit():
        raise ValueError(f"init(address={address!r}): expected HOST:PORT, e.g. 'ray:10.0.0.5:6379'")
    return host, int(port)


def _probe(kind: str, address: str, shown: str) -> None:
    host, port = _host_port(address)
    try:
        socket.create_connection((host, port), timeout=PROBE_TIMEOUT_S).close()
    except OSError as e:
        if kind == "client":
            hint = (
                "Start the head with `ray start --head --ray-client-server-port=PORT` (the default port is "
                "10001); the head needs Ray Client (`pip install 'ray[client]'` there), or, from a node of "
                "the cluster, use its GCS address: init(address='ray:HOST:6379')"
            )
        else:
            hint = "Start the head with `ray start --head --port=PORT`, or check the address and the firewall"
        raise ConnectionError(
            f"init(address={shown!r}): no Ray cluster answers at {host}:{port} ({e}). {hint}"
        ) from None


def connect(cluster: tuple[str, str], *, namespace: str | None, runtime_env: Any, log_to_driver: bool,
            logging_level: Any) -> RayRuntime:  # fmt: skip
    """Connect this driver to the cluster; the installed RayRuntime (see package docs)."""
    kind, address = cluster
    shown = address if kind == "client" else f"ray:{address}"
    _probe(kind, address, shown)
    if ray.is_initialized():
        raise RuntimeError(
            "Ray is already initialized in this process; call ray.shutdown() before greenroom.init()"
        )
    try:
        ray.init(address=address, namespace=namespace, runtime_env=runtime_env, log_to_driver=log_to_driver,
                 logging_level=logging_level)  # fmt: skip
    except Exception as e:
        text = str(e)
        if "version mismatch" in text.lower() or "versions" in text.lower() and "mismatch" in text.lower():
            raise ConnectionError(
                f"init(address={shown!r}): this driver's Ray ({ray.__version__}) or Python does not match the "
                f"cluster's. Install the cluster's exact Ray version here ({EXTRA} pins greenroom's; "
                f"`pip install ray[client,tune]==<the cluster's>`), on the same Python minor version. Ray says: {text}"
            ) from e
        if "authentication" in text.lower() or "auth_token" in text.lower():
            raise ConnectionError(
                f"init(address={shown!r}): the cluster uses Ray's token authentication and this driver has no "
                "valid token. Set RAY_AUTH_MODE=token and the cluster's token (RAY_AUTH_TOKEN, or "
                f"~/.ray/auth_token) here. Ray says: {text}"
            ) from e
        raise ConnectionError(
            f"init(address={shown!r}): Ray could not connect: {type(e).__name__}: {text}"
        ) from e
    rt = RayRuntime(is_driver=True, address=shown)
    from greenroom.runtime.api import InitContext

    rt.init_context = InitContext(
        address_info={"address": shown, "node_id": rt.node_id, "backend": "ray"}, dashboard_url=None,
    )  # fmt: skip
    install(rt)
    return rt
