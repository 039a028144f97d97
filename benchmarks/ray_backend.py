"""greenroom on a Ray cluster beside plain Ray on the same cluster, same run (W2-W5, W7).

    python benchmarks/ray_backend.py [--quick] [--reps 3] [--json out.jsonl]

Starts one private Ray head on 127.0.0.1 (2 CPUs, tests/ray_cluster.py), then runs
every workload in fresh driver interpreters connected to it, greenroom and Ray
alternating (which goes first alternates too), ``--reps`` times each. The figure is the median over reps; the
overhead is greenroom's time over Ray's, minus 1 (target: at most 10%).
One JSON line per figure on stdout, with the peer's figure beside it.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, "tests"))

from workloads_actors import AsyncEcho, Echo  # noqa: E402  (the actors W4 and W5 use in core.py)


def _noop():
    return None


def _echo(x):
    return x


def _trial(config):
    from greenroom import tune as gr_tune

    gr_tune.report({"score": config["x"]})


def _ray_trial(config):
    from ray import tune as ray_tune

    ray_tune.report({"score": config["x"]})


def child(lib: str, address: str, quick: bool) -> dict:
    """Every workload once in this interpreter; {figure: (value, unit)}; lower is better for s."""
    if lib == "greenroom":
        import greenroom as api

        api.init(address="ray:" + address)
    else:
        import ray as api

        api.init(address=address, logging_level="ERROR")
    out = {}
    n_tasks = 500 if quick else 2_000
    noop, echo = api.remote(_noop), api.remote(_echo)
    api.get([noop.remote() for _ in range(50)])  # warm the workers
    t = time.perf_counter()
    api.get([noop.remote() for _ in range(n_tasks)])
    out["W2 no-op tasks, time per task"] = ((time.perf_counter() - t) / n_tasks * 1e6, "us")
    lat = []
    for i in range(200 if quick else 500):
        t = time.perf_counter()
        api.get(echo.remote(i))
        lat.append(time.perf_counter() - t)
    out["W3 sequential get(f.remote(x)), median"] = (statistics.median(lat) * 1e6, "us")
    cls = api.remote(Echo)
    created = []
    for _ in range(3 if quick else 5):
        t = time.perf_counter()
        a = cls.remote()
        api.get(a.echo.remote(1))
        created.append(time.perf_counter() - t)
        api.kill(a)
    out["W4 actor creation to first call"] = (statistics.median(created) * 1e3, "ms")
    a = cls.remote()
    api.get(a.echo.remote(0))
    lat = []
    for i in range(200 if quick else 500):
        t = time.perf_counter()
        api.get(a.echo.remote(i))
        lat.append(time.perf_counter() - t)
    out["W4 sequential actor call, median"] = (statistics.median(lat) * 1e6, "us")
    n_calls = 2_000 if quick else 10_000
    for label, actor_cls in (("sync", Echo), ("async", AsyncEcho)):
        h = api.remote(actor_cls).remote()
        api.get(h.echo.remote(0))
        t = time.perf_counter()
        api.get([h.echo.remote(i) for i in range(n_calls)])
        out[f"W5 pipelined calls, {label} actor, time per call"] = (
            (time.perf_counter() - t) / n_calls * 1e6,
            "us",
        )
    n_trials = 4
    import tempfile

    with tempfile.TemporaryDirectory() as d:
        t = time.perf_counter()
        if lib == "greenroom":
            from greenroom import tune

            tune.run(_trial, config={"x": tune.grid_search(list(range(n_trials)))}, storage_path=d, verbose=0,
                     resources_per_trial={"cpu": 1})  # fmt: skip
        else:
            from ray import tune

            tune.run(_ray_trial, config={"x": tune.grid_search(list(range(n_trials)))}, storage_path=d, verbose=0,
                     resources_per_trial={"cpu": 1})  # fmt: skip
        out["W7 tune.run of 4 trivial 1-CPU trials"] = (time.perf_counter() - t, "s")
    api.shutdown()
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--child")
    parser.add_argument("--address")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--json")
    args = parser.parse_args()
    if args.child:
        print("RESULT " + json.dumps(child(args.child, args.address, args.quick)), flush=True)
        return
    import ray_cluster

    head = ray_cluster.start(num_cpus=2, num_gpus=0, extra_path=[HERE])
    results: dict[str, list[dict]] = {"greenroom": [], "ray": []}
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([ROOT, HERE, os.environ.get("PYTHONPATH", "")])}
    try:
        for rep in range(args.reps):
            # Which goes first alternates: the first child of a rep runs on a head the other just
            # left, which measurably favours one side when it is always the same.
            for lib in ("greenroom", "ray") if rep % 2 == 0 else ("ray", "greenroom"):
                cmd = [
                    sys.executable,
                    os.path.abspath(__file__),
                    "--child",
                    lib,
                    "--address",
                    head.gcs_address,
                ]
                cmd += ["--quick"] if args.quick else []
                proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600, env=env)
                lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")]
                if not lines:
                    raise RuntimeError(f"{lib} rep {rep}: {proc.stderr[-2000:]}")
                results[lib].append(json.loads(lines[-1][7:]))
                print(f"rep {rep} {lib} done", file=sys.stderr, flush=True)
    finally:
        ray_cluster.stop(head)
    sink = open(args.json, "a") if args.json else None
    for figure in results["greenroom"][0]:
        ours = statistics.median(r[figure][0] for r in results["greenroom"])
        theirs = statistics.median(r[figure][0] for r in results["ray"])
        unit = results["greenroom"][0][figure][1]
        line = json.dumps({
            "figure": figure, "unit": unit, "greenroom_on_ray": round(ours, 3), "ray": round(theirs, 3),
            "overhead": round(ours / theirs - 1, 3), "target_overhead_max": 0.10, "reps": args.reps,
        })  # fmt: skip
        print(line)
        if sink:
            sink.write(line + "\n")


if __name__ == "__main__":
    main()
