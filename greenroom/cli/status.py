"""``greenroom status`` as text for a terminal."""

from __future__ import annotations

from typing import Any


def _amount(value: float) -> str:
    return f"{value:g}" if value < 1 << 20 else f"{value / (1 << 30):.1f} GiB"


def render(status: dict[str, Any], info: dict[str, Any]) -> str:
    """The status as text for a terminal."""
    out = [f"greenroom head pid {info['pid']}  socket {info['socket']}"]
    total, free = status["total"], status["available"]
    out.append("\nResources (used / total):")
    for name in sorted(total):
        if name.startswith("node:"):
            continue
        used = total[name] - free.get(name, 0.0)
        out.append(f"  {name:<12} {_amount(used):>10} / {_amount(total[name])}")
    if status["gpus"]:
        out.append("\nGPUs:")
        for gpu in status["gpus"]:
            held = ", ".join(gpu["holders"]) or "free"
            out.append(f"  GPU {gpu['id']}: {held}")
    out.append(f"\nActors ({len(status['actors'])}):")
    for a in status["actors"]:
        gpus = f" gpus={a['gpu_ids']}" if a["gpu_ids"] else ""
        name = a["name"] or "-"
        out.append(f"  {a['class_name']:<20} {name:<16} {a['state']:<10} pid={a['pid']}{gpus}"
                   + (" detached" if a["detached"] else ""))  # fmt: skip
    tasks = status["tasks"]
    out.append(f"\nTasks: {tasks['running']} running, {tasks['queued']} queued, {tasks['waiting_args']} waiting for arguments")
    out.append(f"\nPlacement groups ({len(status['placement_groups'])}):")
    for pg in status["placement_groups"]:
        out.append(f"  {pg['id']} {pg['name'] or '-'} {pg['state']} {pg['strategy']} {pg['bundles']}")
    if status["waiting"]:
        out.append("\nWaiting for resources:")
        out += [f"  {w}" for w in status["waiting"]]
    out.append(f"\nDrivers attached ({len(status['drivers'])}):")
    for d in status["drivers"]:
        out.append(f"  job {d['job_id']}  pid {d['pid']}  namespace {d['namespace']}")
    out.append(f"\nLogs: {info['log_dir']}")
    return "\n".join(out)
