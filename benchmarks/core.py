"""The benchmark suite: greenroom beside Ray, a ProcessPoolExecutor and raw references, on 2 worker CPUs.

    python benchmarks/core.py [--quick] [--peers ray,pool] [--json out.jsonl] [--only a,b]

Every measurement runs in a fresh child interpreter (this file with ``--child``),
so imports and ``init()`` are real. The workloads live in ``workloads_*.py``
(registered with ``harness.workload``), the issue's targets in ``targets.py``;
this module runs the children and reports.

Output: progress on stderr; on stdout one JSON line of machine info, one JSON
line per figure, then a table. Ratios are > 1 when greenroom is better.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import os
import platform
import subprocess
import sys
import time

import workloads_actors  # noqa: F401 - each workloads_* module registers its workloads
import workloads_enforce  # noqa: F401
import workloads_objects  # noqa: F401
import workloads_raw  # noqa: F401
import workloads_tasks  # noqa: F401
import workloads_train  # noqa: F401
from harness import LIBS, NUM_CPUS, WORKLOADS, median_of
from targets import assess, ratio

HERE = os.path.dirname(os.path.abspath(__file__))
PEERS = ("ray", "pool")
CHILD_TIMEOUT_S = 300  # a child that hangs is killed and reported, the run goes on


# ---------------------------------------------------------------- child side


def child_main(args) -> None:
    result = WORKLOADS[args.child].fn(args.lib, args.n, args.reps, spawned_at=args.spawned_at)
    print("RESULT " + json.dumps(result), flush=True)


# ---------------------------------------------------------------- parent side


def child_env() -> dict[str, str]:
    """The workload modules importable in the child and in the workers it starts
    (they unpickle the workloads' functions by reference)."""
    path = os.environ.get("PYTHONPATH")
    return {**os.environ, "PYTHONPATH": HERE + (os.pathsep + path if path else "")}


def run_child(name: str, lib: str, n: int, reps: int) -> dict:
    """Run one workload in a fresh interpreter; its result dict, or raise RuntimeError."""
    cmd = [sys.executable, os.path.join(HERE, "core.py"), "--child", name, "--lib", lib]
    cmd += ["--n", str(n), "--reps", str(reps), "--spawned-at", repr(time.time())]
    proc = subprocess.Popen(
        cmd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
        env=child_env(),
    )
    try:
        out, err = proc.communicate(timeout=CHILD_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, 9)  # the child's own session: it and the workers it started
        _, err = proc.communicate()
        tail = " | ".join(err.strip().splitlines()[-5:])
        raise RuntimeError(f"{name}/{lib}: no result after {CHILD_TIMEOUT_S} s (killed); stderr: {tail}")
    lines = [line for line in out.splitlines() if line.startswith("RESULT ")]
    if proc.returncode != 0 or not lines:
        tail = " | ".join(err.strip().splitlines()[-5:])
        raise RuntimeError(f"{name}/{lib}: child exited with {proc.returncode}: {tail}")
    return {m: tuple(v) for m, v in json.loads(lines[-1][7:]).items()}


def measure(name: str, lib: str, quick: bool) -> dict:
    w = WORKLOADS[name]
    n, reps = (w.n_quick, 1) if quick else (w.n, 3)
    if not w.fresh_per_rep:
        return run_child(name, lib, n, reps)
    if not quick:
        run_child(name, lib, n, 1)  # warm-up: page cache, .pyc files
    return median_of([run_child(name, lib, n, 1) for _ in range(reps)])


def measure_all(names: list[str], peers: list[str], quick: bool, notes: list[str]) -> list[dict]:
    """Every workload for greenroom, the chosen peers and the raw references: one row per figure."""
    rows = []
    for name in names:
        results = {}
        for lib in WORKLOADS[name].libs:
            if lib in PEERS and lib not in peers:
                continue
            print(f"[bench] {name} / {lib} ...", file=sys.stderr, flush=True)
            try:
                results[lib] = measure(name, lib, quick)
            except Exception as e:  # noqa: BLE001 - one failing cell must not hide the rest
                notes.append(str(e))
                print(f"[bench] FAILED {e}", file=sys.stderr, flush=True)
        rows += make_rows(name, results)
    assess(rows)
    return rows


def make_rows(name: str, results: dict[str, dict]) -> list[dict]:
    metrics = {m: unit for r in results.values() for m, (_, unit) in r.items()}  # every lib's, in order
    rows = []
    for metric, unit in metrics.items():
        v = {lib: results.get(lib, {}).get(metric, (None,))[0] for lib in LIBS}
        rows.append({
            "workload": name, "group": WORKLOADS[name].group, "metric": metric, "unit": unit,
            **{lib: None if v[lib] is None else round(v[lib], 6) for lib in LIBS},
            "ratio_vs_ray": ratio(v["greenroom"], v["ray"], unit),
            "ratio_vs_pool": ratio(v["greenroom"], v["pool"], unit),
        })  # fmt: skip
    return rows


def version(dist: str) -> str | None:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return None


def machine_info() -> dict:
    model = platform.processor()
    if os.path.exists("/proc/cpuinfo"):
        with open("/proc/cpuinfo") as f:
            model = next((ln.split(":", 1)[1].strip() for ln in f if ln.startswith("model name")), model)
    mem_gb = (
        os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 1e9 if hasattr(os, "sysconf") else None
    )
    return {
        "machine": True, "cores": os.cpu_count(), "cpu": model, "memory_gb": mem_gb and round(mem_gb, 1),
        "python": platform.python_version(), "platform": platform.platform(), "num_cpus": NUM_CPUS,
        **{dist: version(dist) for dist in ("greenroom", "ray", "numpy", "uvloop", "psutil", "cloudpickle")},
        "loadavg": [round(x, 2) for x in os.getloadavg()],
    }  # fmt: skip


def fmt(v: float | None) -> str:
    return "-" if v is None else f"{v:,.0f}" if v >= 100 else f"{v:.3g}"


def fmt_ratio(r: float | None) -> str:
    return "-" if r is None else fmt(r) + "x"


def fmt_target(row: dict) -> str:
    """ "met", or the targets missed and those that could not be checked (a figure was not measured)."""
    if row["target"] in (None, "met"):
        return row["target"] or ""
    parts = [
        f"{word}: {', '.join(label for label, ok in row['targets'].items() if ok is state)}"
        for word, state in (("missed", False), ("n/a", None))
        if state in row["targets"].values()
    ]
    return "; ".join(parts)


def print_table(rows: list[dict]) -> None:
    head = ["", "workload", "metric", "unit", *LIBS, "vs ray", "vs pool", "target"]
    table = [head] + [
        [r["group"], r["workload"], r["metric"], r["unit"], *(fmt(r[lib]) for lib in LIBS),
         fmt_ratio(r["ratio_vs_ray"]), fmt_ratio(r["ratio_vs_pool"]), fmt_target(r)]
        for r in rows
    ]  # fmt: skip
    widths = [max(len(row[i]) for row in table) for i in range(len(head))]
    left = {0, 1, 2, 3, len(head) - 1}
    for row in table:
        cells = (c.ljust(w) if i in left else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths)))
        print("  ".join(cells).rstrip())


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="1 repetition, smaller n (CI smoke run)")
    p.add_argument("--peers", default="ray,pool", help="comma-separated subset of: ray,pool ('' for none)")
    p.add_argument("--json", metavar="PATH", help="also write the JSON lines to PATH")
    p.add_argument("--only", help="comma-separated workload names (default: all)")
    p.add_argument("--child", help=argparse.SUPPRESS)
    p.add_argument("--lib", help=argparse.SUPPRESS)
    p.add_argument("--n", type=int, help=argparse.SUPPRESS)
    p.add_argument("--reps", type=int, help=argparse.SUPPRESS)
    p.add_argument("--spawned-at", type=float, help=argparse.SUPPRESS)
    args = p.parse_args()
    args.peers = [x for x in args.peers.split(",") if x]
    if unknown := set(args.peers) - set(PEERS):
        p.error(f"--peers: unknown {sorted(unknown)}; choose from {','.join(PEERS)}")
    order = sorted(WORKLOADS, key=lambda name: WORKLOADS[name].group)  # W1..W8, then raw
    args.only = args.only.split(",") if args.only else order
    if unknown := set(args.only) - set(WORKLOADS):
        p.error(f"--only: unknown {sorted(unknown)}; choose from {','.join(order)}")
    return args


def main() -> None:
    args = parse_args()
    if args.child:
        return child_main(args)
    notes: list[str] = []
    machine = machine_info()  # before the run: the load average says how busy the machine was
    if "ray" in args.peers and version("ray") is None:
        args.peers.remove("ray")
        notes.append("ray: not installed (pip install 'ray[tune]'); its column is empty")
    rows = measure_all(args.only, args.peers, args.quick, notes)

    lines = [json.dumps({**machine, "quick": args.quick, "notes": notes})]
    lines += [json.dumps(r) for r in rows]
    print("\n".join(lines))
    if args.json:
        with open(args.json, "w") as f:
            f.write("\n".join(lines) + "\n")
    print()
    print_table(rows)
    how = "quick run: 1 repetition, small n" if args.quick else "median of 3 repetitions after a warm-up"
    print(f"\n{how}; ratios > 1 mean greenroom is better (faster, higher rate, less memory)")
    for note in notes:
        print(f"note: {note}")


if __name__ == "__main__":
    main()
