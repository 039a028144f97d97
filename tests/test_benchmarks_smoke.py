"""The benchmark suite still runs (a quick smoke run; timings are never asserted)."""

from __future__ import annotations

import json
import pathlib
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent


def test_benchmarks_quick_run_prints_json_figures():
    """benchmarks/core.py --quick prints machine info and one JSON line per figure."""
    cmd = [sys.executable, str(ROOT / "benchmarks" / "core.py"), "--quick", "--peers", "pool",
           "--only", "throughput,round_trip,actor_round_trip,async_actor_pipelined"]  # fmt: skip
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    lines = [json.loads(line) for line in out.stdout.splitlines() if line.startswith("{")]
    figures = {(d["workload"], d["metric"]) for d in lines[1:]}
    assert ("throughput", "tasks_per_s") in figures
    assert ("async_actor_pipelined", "calls_per_s") in figures
    assert all(d["greenroom"] and d["greenroom"] > 0 for d in lines[1:])


def test_benchmarks_scale_curve_names_each_size():
    """A scale workload (--only S7) reports its figures at three sizes, named metric@size."""
    cmd = [sys.executable, str(ROOT / "benchmarks" / "core.py"), "--quick", "--peers", "", "--only", "S7"]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=50)
    assert out.returncode == 0, out.stderr[-2000:]
    lines = [json.loads(line) for line in out.stdout.splitlines() if line.startswith("{")]
    metrics = {d["metric"] for d in lines[1:] if d["workload"] == "scale_placement_groups"}
    assert metrics == {f"{m}@{n}" for m in ("create", "remove") for n in ("1", "10", "100")}
    assert all(d["greenroom"] > 0 for d in lines[1:])
