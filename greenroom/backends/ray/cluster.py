"""Connecting the driver to a Ray cluster, with failures explained and bounded in time.

Before Ray is asked to connect, the address is probed with one TCP connect of at
most ``PROBE_TIMEOUT_S``: nothing listening is reported at once with what to
check, instead of Ray's own retries (a minute, for a GCS address). Ray's refusal
of a driver whose Ray or Python version differs from the cluster's becomes a
``ConnectionError`` saying which versions to install.
"""

from __future__ import annotations

import contextlib
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
    if kind == "gcs":
        _probe_gcs(f"{host}:{port}", shown)
    else:
        _probe_grpc(f"{host}:{port}", shown)


def _probe_grpc(address: str, shown: str) -> None:
    """Ray Client's server speaks gRPC: a listener that does not is reported within
    PROBE_TIMEOUT_S (Ray's own client waits 30 s, then says only "timeout")."""
    import grpc

    channel = grpc.insecure_channel(address)
    try:
        grpc.channel_ready_future(channel).result(timeout=PROBE_TIMEOUT_S)
    except grpc.FutureTimeoutError:
        raise ConnectionError(
            f"init(address={shown!r}): something listens at {address}, but no Ray Client server answered "
            f"within {PROBE_TIMEOUT_S:g} s. Give the head's Ray Client port (ray start --head "
            "--ray-client-server-port=PORT, 10001 by default), or init(address='ray:HOST:6379') for its GCS"
        ) from None
    finally:
        channel.close()


def _probe_gcs(address: str, shown: str) -> None:
    """One call of the GCS's own gRPC service, bounded by PROBE_TIMEOUT_S: Ray's connect retries
    for minutes when what listens there is not a GCS (a wrong port, Ray Client's)."""
    import grpc
    from ray.core.generated import gcs_service_pb2, gcs_service_pb2_grpc

    channel = grpc.insecure_channel(address)
    try:
        stub = gcs_service_pb2_grpc.NodeInfoGcsServiceStub(channel)
        stub.GetClusterId(gcs_service_pb2.GetClusterIdRequest(), timeout=PROBE_TIMEOUT_S)
    except grpc.RpcError as e:
        code = e.code()
        if code == grpc.StatusCode.UNIMPLEMENTED:
            raise ConnectionError(
                f"init(address={shown!r}): {address} answers, but it is not a Ray GCS (Ray Client's port? "
                f"then use init(address='ray://{address}')); give the head's GCS port (ray start --head "
                "--port=PORT, 6379 by default)"
            ) from None
        if code in (grpc.StatusCode.DEADLINE_EXCEEDED, grpc.StatusCode.UNAVAILABLE):
            raise ConnectionError(
                f"init(address={shown!r}): something listens at {address}, but no Ray GCS answered within "
                f"{PROBE_TIMEOUT_S:g} s. Give the head's GCS port (ray start --head --port=PORT, 6379 by "
                "default), or init(address='ray://HOST:10001') for Ray Client"
            ) from None
        # Anything else (token authentication, ...) came from a GCS: Ray's connect explains it.
    finally:
        channel.close()


def _undo_failed_init() -> None:
    """Leave Ray as before a failed ``ray.init``: a failed ``ray://`` connect keeps Ray's
    process-wide client mode on, which turns every later ``ray.init`` into a broken client call."""
    from ray.util.client import ray as client_stub

    for undo in (client_stub.disconnect, ray.shutdown):
        with contextlib.suppress(Exception):  # best effort: the connect error is what the caller sees
            undo()


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
        _undo_failed_init()
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
