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


def memory_usage_threshold(default: float) -> float:
    """Ray's RAY_memory_usage_threshold: the node-wide memory guard kills a worker above this fraction used."""
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
