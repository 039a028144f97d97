"""W1-W5 with the driver attached to a running node, beside the embedded node, same run.

    python benchmarks/attached.py [--quick]

Starts a greenroom head (``greenroom start --head --num-cpus 2``) and a private
Ray head (``ray start --head --num-cpus 2``, tests/ray_cluster.py), then runs
each workload in a fresh child four ways: greenroom embedded (``init(num_cpus=2)``),
greenroom attached (``init(address=<the head's socket>)``), Ray embedded and Ray
attached (``init(address=<its GCS address>)``, what ``address="auto"`` finds).
Medians of 3 (1 with --quick), as in core.py. Ray is optional: without it only
greenroom's two columns are printed.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path[:0] = [HERE, os.path.join(ROOT, "tests")]

from core import measure  # noqa: E402
from harness import WORKLOADS  # noqa: E402

NAMES = ["cold_start", "throughput", "round_trip", "actor_create", "actor_round_trip", "actor_pipelined",
         "async_actor_pipelined"]  # fmt: skip
KEY_METRIC = {"cold_start": "first_result", "throughput": "tasks_per_s", "round_trip": "median",
              "actor_create": "create_to_first_call", "actor_round_trip": "median",
              "actor_pipelined": "calls_per_s", "async_actor_pipelined": "calls_per_s"}  # fmt: skip


def _with_address(address: str | None, name: str, lib: str, quick: bool) -> dict:
    old = os.environ.pop("BENCH_ADDRESS", None)
    if address:
        os.environ["BENCH_ADDRESS"] = address
    try:
        return measure(name, lib, quick)
    except RuntimeError as e:
        print(f"  {name}/{lib}: {e}", file=sys.stderr)
        return {}
    finally:
        os.environ.pop("BENCH_ADDRESS", None)
        if old is not None:
            os.environ["BENCH_ADDRESS"] = old


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--json", help="append the rows to this file (JSON lines)")
    args = parser.parse_args()
    cli = [sys.executable, "-m", "greenroom"]
    temp_dir = tempfile.mkdtemp(prefix="grb-")
    subprocess.run(cli + ["start", "--head", "--num-cpus", "2", "--temp-dir", temp_dir], check=True,
                   stdout=subprocess.DEVNULL)  # fmt: skip
    with open(os.path.join(temp_dir, "head.json")) as f:
        socket_path = json.load(f)["socket"]
    ray_head = None
    try:
        import ray  # noqa: F401

        import ray_cluster

        ray_head = ray_cluster.start(num_cpus=2, num_gpus=0, extra_path=[HERE])
    except ImportError:
        print("Ray is not installed: greenroom's columns only", file=sys.stderr)
    rows = []
    try:
        for name in NAMES:
            metric = KEY_METRIC[name]
            unit = ""
            row = {"workload": name, "metric": metric}
            runs = [("greenroom", None, "greenroom_embedded"), ("greenroom", socket_path, "greenroom_attached")]
            if ray_head is not None:
                runs += [("ray", None, "ray_embedded"), ("ray", ray_head.gcs_address, "ray_attached")]
            for lib, address, column in runs:
                if lib not in WORKLOADS[name].libs:
                    continue
                result = _with_address(address, name, lib, args.quick)
                if metric in result:
                    row[column], unit = result[metric]
            row["unit"] = unit
            rows.append(row)
            print(json.dumps(row), flush=True)
    finally:
        subprocess.run(cli + ["stop", "--temp-dir", temp_dir], check=False, stdout=subprocess.DEVNULL)
        shutil.rmtree(temp_dir, ignore_errors=True)
        if ray_head is not None:
            ray_cluster.stop(ray_head)
    columns = ["greenroom_embedded", "greenroom_attached", "ray_embedded", "ray_attached"]
    print(f"\n{'workload':<22} {'metric':<21} " + " ".join(f"{c:>19}" for c in columns) + "  unit")
    for row in rows:
        cells = " ".join(f"{row[c]:>19.4g}" if c in row else f"{'-':>19}" for c in columns)
        print(f"{row['workload']:<22} {row['metric']:<21} {cells}  {row['unit']}")
    if args.json:
        with open(args.json, "a") as f:
            for row in rows:
                f.write(json.dumps(row) + "\n")


if __name__ == "__main__":
    main()
