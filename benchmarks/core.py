"""Core benchmarks: greenroom beside Ray and a ProcessPoolExecutor, on 2 worker CPUs.

    python benchmarks/core.py [--quick] [--peers ray,pool] [--json out.jsonl]

Every measurement runs in a fresh child interpreter (this file with ``--child``),
so imports and ``init()`` are real. A workload is one function in WORKLOADS: it
runs inside the child and returns ``{metric: (value, unit)}``. To add one, write
the function and decorate it with ``@workload(...)``; the parent does the rest.

Output: progress on stderr; on stdout one JSON line of machine info, one JSON
line per figure, then a table. Ratios are > 1 when greenroom is better.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from typing import Callable

LIBS = ("greenroom", "ray", "pool")
HIGHER_IS_BETTER = {"tasks/s", "calls/s", "trials/s"}  # every other unit (s, ms, us) is a duration: lower is better
NUM_CPUS = 2
CHILD_TIMEOUT_S = 300  # a child that hangs is killed and reported, the run goes on


@dataclass(frozen=True)
class Workload:
    fn: Callable[..., dict[str, tuple[float, str]]]
    libs: tuple[str, ...]
    n: int  # the workload's size in a full run
    n_quick: int  # ... and with --quick
    fresh_per_rep: bool  # True: each repetition is its own child (what it measures is process start)


WORKLOADS: dict[str, Workload] = {}


def workload(name: str, libs: tuple[str, ...], n: int = 0, n_quick: int = 0, fresh_per_rep: bool = False):
    """Register ``fn(lib, n, reps) -> {metric: (value, unit)}``, run inside a child process."""

    def register(fn):
        WORKLOADS[name] = Workload(fn, libs, n, n_quick, fresh_per_rep)
        return fn

    return register


# ---------------------------------------------------------------- child side


def noop(x):
    return x


class Runtime:
    """One way to submit and fetch for each library, so each workload is written once."""

    def __init__(self, lib: str):
        self.lib = lib
        if lib == "pool":
            from concurrent.futures import ProcessPoolExecutor

            self.pool = ProcessPoolExecutor(NUM_CPUS)
        else:
            self.ray = __import__(lib)  # greenroom is imported as ray: the same code below
            self.ray.init(num_cpus=NUM_CPUS, include_dashboard=False)
            self.remote_noop = self.ray.remote(noop)

    def submit(self, x):
        return self.pool.submit(noop, x) if self.lib == "pool" else self.remote_noop.remote(x)

    def get(self, handles: list) -> list:
        if self.lib == "pool":
            return [h.result() for h in handles]
        return self.ray.get(handles)

    def shutdown(self) -> None:
        self.pool.shutdown() if self.lib == "pool" else self.ray.shutdown()


def repeat(once: Callable[[int], dict], n: int, reps: int) -> dict[str, tuple[float, str]]:
    """Warm up with ``once(n // 10)`` (workers started, function shipped), then the
    per-metric median of ``reps`` runs of ``once(n)``."""
    once(max(1, n // 10))
    runs = [once(n) for _ in range(reps)]
    return {m: (statistics.median(r[m][0] for r in runs), unit) for m, (_, unit) in runs[0].items()}


def latencies(call: Callable[[int], object], k: int) -> dict[str, tuple[float, str]]:
    """Median and p99 of ``k`` sequential calls, in microseconds."""
    lat = []
    for i in range(k):
        t0 = time.perf_counter()
        call(i)
        lat.append((time.perf_counter() - t0) * 1e6)
    lat.sort()
    return {"median": (statistics.median(lat), "us"), "p99": (lat[min(k - 1, int(0.99 * k))], "us")}


@workload("cold_start", libs=("greenroom", "ray"), fresh_per_rep=True)
def cold_start(lib: str, n: int, reps: int, spawned_at: float = 0.0):
    """Fresh interpreter -> import -> init -> first remote result; then shutdown."""
    t0 = time.perf_counter()
    ray = __import__(lib)
    t1 = time.perf_counter()
    ray.init(num_cpus=NUM_CPUS, include_dashboard=False)
    t2 = time.perf_counter()
    assert ray.get(ray.remote(noop).remote(1)) == 1
    t3 = time.perf_counter()
    first_result = time.time() - spawned_at  # wall clock, shared with the parent: includes interpreter start
    ray.shutdown()
    t4 = time.perf_counter()
    return {
        "first_result": (first_result, "s"),
        "import": (t1 - t0, "s"),
        "init": (t2 - t1, "s"),
        "first_task": (t3 - t2, "s"),
        "shutdown": (t4 - t3, "s"),
    }


@workload("throughput", libs=LIBS, n=10_000, n_quick=1_000)
def throughput(lib: str, n: int, reps: int, spawned_at: float = 0.0):
    """Submit ``n`` no-op tasks, then fetch them all with one get."""
    rt = Runtime(lib)

    def once(k):
        t0 = time.perf_counter()
        assert len(rt.get([rt.submit(i) for i in range(k)])) == k
        return {"tasks_per_s": (k / (time.perf_counter() - t0), "tasks/s")}

    try:
        return repeat(once, n, reps)
    finally:
        rt.shutdown()


@workload("round_trip", libs=LIBS, n=1_000, n_quick=200)
def round_trip(lib: str, n: int, reps: int, spawned_at: float = 0.0):
    """``n`` sequential get(f.remote(x)): median and p99 latency."""
    rt = Runtime(lib)

    def once(k):
        return latencies(lambda i: rt.get([rt.submit(i)]), k)

    try:
        return repeat(once, n, reps)
    finally:
        rt.shutdown()


class Echo:
    def echo(self, x):
        return x


class AsyncEcho:
    async def echo(self, x):
        return x


def _actor_lib(lib: str):
    ray = __import__(lib)
    ray.init(num_cpus=NUM_CPUS, include_dashboard=False)
    return ray


@workload("actor_create", libs=("greenroom", "ray"), n=20, n_quick=5)
def actor_create(lib: str, n: int, reps: int, spawned_at: float = 0.0):
    """Create an actor and get its first call's result; median per actor."""
    ray = _actor_lib(lib)
    cls = ray.remote(Echo)

    def once(k):
        times = []
        for _ in range(k):
            t0 = time.perf_counter()
            a = cls.remote()
            ray.get(a.echo.remote(1))
            times.append(time.perf_counter() - t0)
            ray.kill(a)
        return {"create_to_first_call": (statistics.median(times) * 1e3, "ms")}

    try:
        return repeat(once, n, reps)
    finally:
        ray.shutdown()


@workload("actor_round_trip", libs=("greenroom", "ray"), n=2_000, n_quick=200)
def actor_round_trip(lib: str, n: int, reps: int, spawned_at: float = 0.0):
    """``n`` sequential get(a.echo.remote(x)) on a sync actor: median and p99."""
    ray = _actor_lib(lib)
    a = ray.remote(Echo).remote()

    def once(k):
        return latencies(lambda i: ray.get(a.echo.remote(i)), k)

    try:
        return repeat(once, n, reps)
    finally:
        ray.shutdown()


def _pipelined(lib: str, n: int, reps: int, cls: type):
    ray = _actor_lib(lib)
    a = ray.remote(cls).remote()

    def once(k):
        t0 = time.perf_counter()
        assert len(ray.get([a.echo.remote(i) for i in range(k)])) == k
        return {"calls_per_s": (k / (time.perf_counter() - t0), "calls/s")}

    try:
        return repeat(once, n, reps)
    finally:
        ray.shutdown()


@workload("actor_pipelined", libs=("greenroom", "ray"), n=20_000, n_quick=2_000)
def actor_pipelined(lib: str, n: int, reps: int, spawned_at: float = 0.0):
    """``n`` calls submitted to a sync actor, then all fetched."""
    return _pipelined(lib, n, reps, Echo)


@workload("async_actor_pipelined", libs=("greenroom", "ray"), n=20_000, n_quick=2_000)
def async_actor_pipelined(lib: str, n: int, reps: int, spawned_at: float = 0.0):
    """``n`` calls submitted to an async actor, then all fetched."""
    return _pipelined(lib, n, reps, AsyncEcho)


def _trivial_trial(config):
    from importlib import import_module

    import_module(config["lib"] + ".tune").report({"score": 1})


@workload("tune_trials", libs=("greenroom", "ray"), n=200, n_quick=20)
def tune_trials(lib: str, n: int, reps: int, spawned_at: float = 0.0):
    """tune.run of n trivial trials, 1 CPU each (Ray runs at most 20: each takes seconds there)."""
    ray = _actor_lib(lib)
    tune = __import__(lib + ".tune", fromlist=["tune"])
    storage = tempfile.mkdtemp(prefix="bench-tune-")
    if lib == "ray":
        n = min(n, 20)

    def once(k):
        t0 = time.perf_counter()
        tune.run(_trivial_trial, config={"lib": lib}, num_samples=k, verbose=0, storage_path=storage)
        return {"trials_per_s": (k / (time.perf_counter() - t0), "trials/s")}

    try:
        once(max(1, n // 10))
        return {m: v for m, v in once(n).items()}
    finally:
        ray.shutdown()
        shutil.rmtree(storage, ignore_errors=True)


def child_main(args) -> None:
    result = WORKLOADS[args.child].fn(args.lib, args.n, args.reps, spawned_at=args.spawned_at)
    print("RESULT " + json.dumps(result), flush=True)


# ---------------------------------------------------------------- parent side


def run_child(name: str, lib: str, n: int, reps: int) -> dict:
    """Run one workload in a fresh interpreter; its result dict, or raise RuntimeError."""
    cmd = [sys.executable, os.path.abspath(__file__), "--child", name, "--lib", lib]
    cmd += ["--n", str(n), "--reps", str(reps), "--spawned-at", repr(time.time())]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
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
    runs = [run_child(name, lib, n, 1) for _ in range(reps)]
    return {m: (statistics.median(r[m][0] for r in runs), unit) for m, (_, unit) in runs[0].items()}


def ratio(gr: float | None, peer: float | None, unit: str) -> float | None:
    if not gr or not peer:
        return None
    return round(gr / peer if unit in HIGHER_IS_BETTER else peer / gr, 3)


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
    return {
        "machine": True, "cores": os.cpu_count(), "cpu": model, "python": platform.python_version(),
        "platform": platform.platform(), "greenroom": version("greenroom"), "ray": version("ray"),
        "num_cpus": NUM_CPUS, "loadavg": [round(x, 2) for x in os.getloadavg()],
    }  # fmt: skip


def fmt(v: float | None) -> str:
    return "-" if v is None else f"{v:,.0f}" if v >= 100 else f"{v:.3g}"


def main() -> None:
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
    if args.child:
        return child_main(args)

    peers = [x for x in args.peers.split(",") if x]
    if unknown := set(peers) - {"ray", "pool"}:
        p.error(f"--peers: unknown {sorted(unknown)}; choose from ray,pool")
    notes: list[str] = []
    machine = machine_info()  # before the run: the load average says how busy the machine was
    if "ray" in peers and version("ray") is None:
        peers.remove("ray")
        notes.append("ray: not installed (pip install 'ray[tune]'); its column is empty")
    names = args.only.split(",") if args.only else list(WORKLOADS)
    if unknown := set(names) - set(WORKLOADS):
        p.error(f"--only: unknown {sorted(unknown)}; choose from {','.join(WORKLOADS)}")
    rows = []
    for name in names:
        results = {}
        for lib in ["greenroom", *peers]:
            if lib not in WORKLOADS[name].libs:
                continue
            print(f"[bench] {name} / {lib} ...", file=sys.stderr, flush=True)
            try:
                results[lib] = measure(name, lib, args.quick)
            except Exception as e:  # noqa: BLE001 - one failing cell must not hide the rest
                notes.append(str(e))
                print(f"[bench] FAILED {e}", file=sys.stderr, flush=True)
        metrics = next((r for r in results.values()), {})
        for metric, (_, unit) in metrics.items():
            v = {lib: results.get(lib, {}).get(metric, (None,))[0] for lib in LIBS}
            rows.append({
                "workload": name, "metric": metric, "unit": unit,
                **{lib: None if v[lib] is None else round(v[lib], 6) for lib in LIBS},
                "ratio_vs_ray": ratio(v["greenroom"], v["ray"], unit),
                "ratio_vs_pool": ratio(v["greenroom"], v["pool"], unit),
            })  # fmt: skip

    lines = [json.dumps({**machine, "quick": args.quick, "notes": notes})]
    lines += [json.dumps(r) for r in rows]
    print("\n".join(lines))
    if args.json:
        with open(args.json, "w") as f:
            f.write("\n".join(lines) + "\n")

    head = ["workload", "metric", "unit", "greenroom", "ray", "pool", "vs ray", "vs pool"]
    table = [head] + [[r["workload"], r["metric"], r["unit"]] + [fmt(r[k]) for k in head[3:6]]
                      + [fmt(r["ratio_vs_ray"]) + "x" * bool(r["ratio_vs_ray"]),
                         fmt(r["ratio_vs_pool"]) + "x" * bool(r["ratio_vs_pool"])] for r in rows]  # fmt: skip
    widths = [max(len(row[i]) for row in table) for i in range(len(head))]
    print()
    for row in table:
        print("  ".join(c.ljust(w) if i < 3 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths))))
    how = "quick run: 1 repetition, small n" if args.quick else "median of 3 repetitions after a warm-up"
    print(f"\n{how}; ratios > 1 mean greenroom is better (faster / more tasks per second)")
    for note in notes:
        print(f"note: {note}")


if __name__ == "__main__":
    main()
