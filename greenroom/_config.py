"""Everything greenroom reads from the environment and the machine, in one place (a leaf: any layer may import it)."""

from __future__ import annotations

import os
import warnings


def machine_cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def machine_memory() -> int:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):  # pragma: no cover
        return 8 << 30


def driver_visible_gpus() -> list[str] | None:
    """The driver's own CUDA_VISIBLE_DEVICES as a list, or None when unset.

    When set, workers get ids from this list (as Ray does), so a driver
    started with CUDA_VISIBLE_DEVICES=2,3 hands out devices 2 and 3.
    """
    value = os.environ.get("CUDA_VISIBLE_DEVICES")
    if value is None:
        return None
    return [v.strip() for v in value.split(",") if v.strip()]


def detect_gpus() -> int:
    """GPUs that NVML reports (0, without error, where NVML or a driver is absent)."""
    visible = driver_visible_gpus()
    try:
        with warnings.catch_warnings():  # the pynvml shim warns that nvidia-ml-py is its new name
            warnings.simplefilter("ignore")
            import pynvml

        pynvml.nvmlInit()
        try:
            count = pynvml.nvmlDeviceGetCount()
        finally:
            pynvml.nvmlShutdown()
    except Exception:
        return 0
    if visible is not None:
        return min(count, len(visible))
    return count


def results_dir() -> str:
    """Where Tune writes experiments by default: $GREENROOM_RESULTS_DIR or ~/greenroom_results."""
    return os.environ.get("GREENROOM_RESULTS_DIR") or os.path.join("~", "greenroom_results")


def node_ip_address(address: str = "8.8.8.8:53") -> str:
    """This machine's IP address as others see it: the source address of a route
    towards ``address`` (a UDP socket is connected, which only looks the route up:
    nothing is sent). Without a route, the address the host name resolves to;
    failing that, 127.0.0.1.
    """
    import socket

    host, _, port = address.rpartition(":")
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        s.connect((host, int(port)))
        return s.getsockname()[0]
    except OSError:  # no route (a machine without network): ask the resolver instead
        try:
            return socket.gethostbyname(socket.getfqdn(socket.gethostname()))
        except OSError:
            return "127.0.0.1"
    finally:
        s.close()


def ray_address() -> str | None:
    """$RAY_ADDRESS, the cluster a Ray program connects to when ``init()`` names none (as Ray reads it).

    Holds ``ray://HOST:PORT`` (Ray Client), ``ray:HOST:PORT`` or Ray's own bare ``HOST:PORT``
    (a GCS address, as ``ray job submit`` sets it); "auto" and "local" are left to the caller.
    """
    return os.environ.get("RAY_ADDRESS") or None
