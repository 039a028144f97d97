"""A real, private Ray head on 127.0.0.1 for the Ray-backend tests and benchmark.

``start()`` runs ``ray start --head`` with free ports and its own ``--temp-dir``;
``ray start`` exits after starting its daemons, so they are not children of the
caller (the leak check of tests/conftest.py never sees them). ``stop()`` ends
exactly the processes whose command line names that temp dir (never
``ray stop``, which would stop every Ray cluster on the machine), then removes
the dir. Plain functions, no pytest: benchmarks/ uses them too.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass

import psutil

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
START_TIMEOUT_S = 120.0


@dataclass
class Head:
    gcs_address: str  # "127.0.0.1:PORT"
    client_address: str  # "ray://127.0.0.1:PORT"
    temp_dir: str


def _free_ports(n: int) -> list[int]:
    socks = []
    try:
        for _ in range(n):
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def start(num_cpus: int = 2, num_gpus: int = 2, extra_path: list[str] = ()) -> Head:
    """Start a head; raises RuntimeError (with Ray's output) if it does not come up."""
    temp_dir = tempfile.mkdtemp(prefix="grr-", dir="/tmp")  # short: Unix socket paths are limited
    gcs, client, agent, agent_grpc, node_mgr, obj_mgr, metrics, env_agent = _free_ports(8)
    env = dict(os.environ)
    # Workers must import this checkout of greenroom (and the test modules), not an installed copy.
    env["PYTHONPATH"] = os.pathsep.join([ROOT, *extra_path, env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    env["RAY_USAGE_STATS_ENABLED"] = "0"
    # Ray 2.60 turns token authentication on for a new head when ~/.ray/auth_token exists (any
    # earlier ray.init() on this machine may have written one); this private head does without.
    env["RAY_AUTH_MODE"] = "disabled"
    cmd = [
        os.path.join(os.path.dirname(sys.executable), "ray"), "start", "--head",
        "--node-ip-address=127.0.0.1", f"--port={gcs}", f"--num-cpus={num_cpus}", f"--num-gpus={num_gpus}",
        "--include-dashboard=false", f"--temp-dir={temp_dir}", f"--ray-client-server-port={client}",
        f"--dashboard-agent-listen-port={agent}", f"--dashboard-agent-grpc-port={agent_grpc}",
        f"--node-manager-port={node_mgr}", f"--object-manager-port={obj_mgr}",
        f"--metrics-export-port={metrics}", f"--runtime-env-agent-port={env_agent}",
        "--object-store-memory=200000000", "--disable-usage-stats",
    ]  # fmt: skip
    try:
        out = subprocess.run(
            cmd, check=False, env=env, capture_output=True, text=True, timeout=START_TIMEOUT_S
        )
    except subprocess.TimeoutExpired as e:
        stop_dir(temp_dir, gcs)
        raise RuntimeError(f"ray start did not finish within {START_TIMEOUT_S} s") from e
    if out.returncode != 0:
        stop_dir(temp_dir, gcs)
        raise RuntimeError(
            f"ray start failed ({out.returncode}):\n{out.stdout[-3000:]}\n{out.stderr[-3000:]}"
        )
    return Head(f"127.0.0.1:{gcs}", f"ray://127.0.0.1:{client}", temp_dir)


def _processes_of(temp_dir: str, gcs_port: int | None = None) -> list[psutil.Process]:
    """The head's processes: those whose command line names its temp dir or its GCS port (the
    Ray Client server names no dir), and all their descendants (the agents rename themselves)."""
    roots = []
    address_suffix = f":{gcs_port}" if gcs_port else None
    for p in psutil.process_iter(["cmdline"]):
        if p.pid == os.getpid():
            continue
        try:
            args = p.info["cmdline"] or ()
            if any(temp_dir in arg for arg in args) or (
                address_suffix and any(a.startswith("--address=") and a.endswith(address_suffix) for a in args)
            ):
                roots.append(p)
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            pass
    found = {p.pid: p for p in roots}
    for p in roots:
        try:
            found.update((c.pid, c) for c in p.children(recursive=True))
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            pass
    return list(found.values())


def stop_dir(temp_dir: str, gcs_port: int | None = None, timeout: float = 20.0) -> None:
    """End every process of the head started with ``temp_dir`` (and ``gcs_port``), then remove the dir."""
    # Raylet and GCS first, so they do not start workers again while we end them.
    procs = _processes_of(temp_dir, gcs_port)
    for p in procs:
        try:
            p.send_signal(signal.SIGTERM)
        except psutil.NoSuchProcess:
            pass
    _, alive = psutil.wait_procs(procs, timeout=timeout / 2)
    for p in alive + _processes_of(temp_dir, gcs_port):  # and any worker started meanwhile
        try:
            p.kill()
        except psutil.NoSuchProcess:
            pass
    deadline = time.monotonic() + timeout / 2
    while _processes_of(temp_dir, gcs_port) and time.monotonic() < deadline:
        time.sleep(0.1)  # polling the OS for killed processes to go, bounded by the deadline
    shutil.rmtree(temp_dir, ignore_errors=True)


def stop(head: Head) -> None:
    stop_dir(head.temp_dir, int(head.gcs_address.rpartition(":")[2]))
