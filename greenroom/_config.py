"""Everything greenroom reads from the environment and the machine, in one place (a leaf: any layer may import it)."""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable


def machine_cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def machine_cores() -> list[int]:
    """The cores this process may run on (its affinity mask), ascending: where pinned work goes."""
    try:
        return sorted(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return list(range(os.cpu_count() or 1))


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


def detect_gpu_name() -> str | None:
    """NVML's name of the first GPU this process sees ("NVIDIA H100 80GB HBM3"), or None."""
    visible = driver_visible_gpus()
    if visible == []:
        return None
    index = int(visible[0]) if visible and visible[0].isdigit() else 0  # (a UUID: the first device)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            import pynvml

        pynvml.nvmlInit()
        try:
            name = pynvml.nvmlDeviceGetName(pynvml.nvmlDeviceGetHandleByIndex(index))
        finally:
            pynvml.nvmlShutdown()
    except Exception:
        return None
    return name.decode() if isinstance(name, bytes) else name


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


def tune_auto_callback_loggers() -> bool:
    """Whether Tune adds its CSV/JSON/TensorBoardX logger callbacks (Ray's TUNE_DISABLE_AUTO_CALLBACK_LOGGERS=1: no)."""
    return os.environ.get("TUNE_DISABLE_AUTO_CALLBACK_LOGGERS", "0") != "1"


def tune_max_pending_trials() -> str:
    """TUNE_MAX_PENDING_TRIALS_PG: how many trials may wait to start ("auto" by default)."""
    return os.environ.get("TUNE_MAX_PENDING_TRIALS_PG", "auto")


def memory_usage_threshold(default: float) -> float:
    """Ray's RAY_memory_usage_threshold: the node-wide memory guard kills a worker above this
    fraction of memory used."""
    return _float_env("RAY_memory_usage_threshold", default)


def memory_monitor_refresh_ms(default: int) -> int:
    """Ray's RAY_memory_monitor_refresh_ms: how often memory is checked; 0 turns the memory monitor off."""
    return int(_float_env("RAY_memory_monitor_refresh_ms", default))


def _float_env(name: str, default: float) -> float:
    value = os.environ.get(name)
    if value is None or not value.strip():
        return default
    try:
        return float(value)
    except ValueError:
        raise ValueError(f"environment variable {name}={value!r}: expected a number") from None


def memory_usage_reader() -> Callable[[], tuple[int, int]]:
    """A function returning (used, total) bytes of the memory this process may use, read anew at
    each call: its cgroup's where a limit below the machine's memory is set (a container), else the
    machine's (MemTotal - MemAvailable). Which source applies is found once, here.

    Cgroup usage leaves out inactive file cache, which the kernel reclaims before anything is
    killed (as Ray counts it).
    """
    total = _meminfo()[0]
    for limit_file, usage_file, stat_file, inactive_key in _CGROUP_FILES:
        limit = _read_int(limit_file)
        if limit is not None and 0 < limit < total and _read_int(usage_file) is not None:
            def cgroup_usage() -> tuple[int, int]:
                used = (_read_int(usage_file) or 0) - _stat_value(stat_file, inactive_key)
                return max(0, used), limit

            return cgroup_usage
    return _machine_usage


# cgroup v2, then v1: (limit, usage, stat, the stat key of reclaimable file cache)
_CGROUP_FILES = (
    ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory.current", "/sys/fs/cgroup/memory.stat",
     "inactive_file"),
    ("/sys/fs/cgroup/memory/memory.limit_in_bytes", "/sys/fs/cgroup/memory/memory.usage_in_bytes",
     "/sys/fs/cgroup/memory/memory.stat", "total_inactive_file"),
)  # fmt: skip


def _machine_usage() -> tuple[int, int]:
    total, available = _meminfo()
    return total - available, total


def _meminfo() -> tuple[int, int]:
    """(MemTotal, MemAvailable) in bytes; they are the first and third lines of /proc/meminfo."""
    total = available = 0
    try:
        with open("/proc/meminfo", "rb") as f:
            head = f.read(512)
    except OSError:  # pragma: no cover - not Linux
        return machine_memory(), machine_memory()
    for line in head.split(b"\n"):
        if line.startswith(b"MemTotal:"):
            total = int(line.split()[1]) * 1024
        elif line.startswith(b"MemAvailable:"):
            available = int(line.split()[1]) * 1024
            break
    return total, available


def _read_int(path: str) -> int | None:
    try:
        with open(path, "rb") as f:
            return int(f.read().strip())
    except (OSError, ValueError):  # absent, or "max" (no limit)
        return None


def _stat_value(path: str, key: str) -> int:
    try:
        with open(path, "rb") as f:
            for line in f:
                name, _, value = line.partition(b" ")
                if name.decode() == key:
                    return int(value)
    except (OSError, ValueError):
        pass
    return 0


def ray_address() -> str | None:
    """$RAY_ADDRESS, the cluster a Ray program connects to when ``init()`` names none (as Ray reads it).

    Holds ``ray://HOST:PORT`` (Ray Client), ``ray:HOST:PORT`` or Ray's own bare ``HOST:PORT``
    (a GCS address, as ``ray job submit`` sets it); "auto" and "local" are left to the caller.
    """
    return os.environ.get("RAY_ADDRESS") or None



def in_ray_worker() -> bool:
    """Whether this process is a Ray worker that ran greenroom work before greenroom was imported
    (the note greenroom.backends.ray.worker leaves): the package face then routes the API to Ray."""
    return os.environ.get("GREENROOM_RAY_WORKER") == "1"
