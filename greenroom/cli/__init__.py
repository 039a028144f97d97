"""The ``greenroom`` command: start, stop and look at a head node.

    greenroom start --head [--num-cpus N] [--num-gpus N] [--resources JSON]
                           [--object-store-memory B] [--block] [--dashboard]
    greenroom status
    greenroom stop
    greenroom dashboard [--port P]

Every command takes ``--temp-dir`` (default ``/tmp/greenroom-<uid>``, or
``$GREENROOM_TEMP_DIR``): where the head keeps its socket, head.json and logs.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from typing import Any

from greenroom.runtime import head_files

START_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 30.0


class CliError(Exception):
    """A message for the user (no traceback); the exit status is 1."""


def _resources(text: str) -> dict[str, float]:
    try:
        value = json.loads(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(f"--resources must be JSON such as '{{\"license\": 2}}' ({e})") from None
    if not isinstance(value, dict) or not all(isinstance(v, (int, float)) for v in value.values()):
        raise argparse.ArgumentTypeError("--resources must be a JSON object of name -> number, e.g. '{\"license\": 2}'")
    return value


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="greenroom", description="Run and inspect a greenroom head node.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, text: str) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=text, description=text)
        sub.add_argument("--temp-dir", help="where the head keeps its socket and logs (default /tmp/greenroom-<uid>)")
        return sub

    start = command("start", "Start a head node on this machine; drivers attach with init(address='auto').")
    start.add_argument("--head", action="store_true", help="start the head (the only kind of node greenroom runs)")
    start.add_argument("--num-cpus", type=float, help="CPUs to schedule with (default: this machine's cores)")
    start.add_argument("--num-gpus", type=int, help="GPUs to schedule with (default: what NVML finds)")
    start.add_argument("--resources", type=_resources, help="custom resources as JSON, e.g. '{\"license\": 2}'")
    start.add_argument("--object-store-memory", type=int, help="bytes the object store may hold")
    start.add_argument("--block", action="store_true", help="run in the foreground until Ctrl-C")
    start.add_argument("--dashboard", action="store_true", help="serve the dashboard on 127.0.0.1 too")
    start.add_argument("--dashboard-port", type=int, default=0, help="the dashboard's port (default: a free one)")
    command("stop", "Stop the head and everything it started, and wait for it.")
    command("status", "Show resources, actors, tasks, placement groups and attached drivers.")
    dash = command("dashboard", "Serve the dashboard of the running head on 127.0.0.1 until Ctrl-C.")
    dash.add_argument("--port", type=int, default=0, help="the port (default: a free one)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        return {"start": _start, "stop": _stop, "status": _status, "dashboard": _dashboard}[args.command](args)
    except CliError as e:
        print(f"greenroom: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


def _running(root: str) -> dict[str, Any]:
    info = head_files.read_info(root)
    if info is None:
        raise CliError(f"no greenroom head is running (looked in {root}); start one with `greenroom start --head`")
    return info


# -- start ------------------------------------------------------------------------------------
def _start(args: argparse.Namespace) -> int:
    if not args.head:
        raise CliError(
            "greenroom runs one node per machine: use `greenroom start --head`. To use many machines, "
            "start a Ray cluster and call greenroom.init(address='ray://...') (see the README)"
        )
    root = head_files.temp_root(args.temp_dir)
    running = head_files.read_info(root)
    if running is not None:
        raise CliError(f"a head is already running here (pid {running['pid']}); stop it with `greenroom stop`")
    options = {k: v for k, v in (("num_cpus", args.num_cpus), ("num_gpus", args.num_gpus),
               ("resources", args.resources), ("object_store_memory", args.object_store_memory)) if v is not None}  # fmt: skip
    if args.dashboard:
        options["dashboard_port"] = args.dashboard_port
    if args.block:
        from greenroom.cli import head

        return head.serve(options, root, ready=_print_started)
    head_files.ensure_private_dir(root)
    os.makedirs(os.path.join(root, "logs"), mode=0o700, exist_ok=True)
    out_path = os.path.join(root, "logs", "head.out")
    with open(out_path, "ab") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "greenroom.cli.head", json.dumps(options), root],
            stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        info = head_files.read_info(root)
        if info is not None and info.get("pid") == proc.pid:
            _print_started(info)
            return 0
        if proc.poll() is not None:
            raise CliError(f"the head did not start (exit status {proc.returncode}):\n{_tail(out_path)}")
        time.sleep(0.05)  # polling a file another process writes, with a deadline
    proc.kill()
    raise CliError(f"the head did not start within {START_TIMEOUT_S:.0f} s:\n{_tail(out_path)}")


def _tail(path: str, lines: int = 15) -> str:
    try:
        with open(path, errors="replace") as f:
            return "".join(f.readlines()[-lines:]).rstrip()
    except OSError:
        return ""


def _print_started(info: dict[str, Any]) -> None:
    res = info.get("resources", {})
    print(f"greenroom head started (pid {info['pid']}): {res.get('CPU', 0):g} CPUs, {res.get('GPU', 0):g} GPUs")
    print("  Attach a driver:   greenroom.init(address=\"auto\")")
    print(f"                     or GREENROOM_ADDRESS={info['socket']}")
    print("  See what runs:     greenroom status")
    print("  Stop it:           greenroom stop")
    print(f"  Logs:              {info['log_dir']}")
    if info.get("dashboard_url"):
        print(f"  Dashboard:         {info['dashboard_url']}  (the token is the password: keep it)")
    sys.stdout.flush()


# -- stop -------------------------------------------------------------------------------------
def _stop(args: argparse.Namespace) -> int:
    root = head_files.temp_root(args.temp_dir)
    info = _running(root)
    pid = info["pid"]
    os.kill(pid, signal.SIGTERM)
    if not _wait_gone(pid, STOP_TIMEOUT_S):
        os.kill(pid, signal.SIGKILL)  # its zygote and workers die with it (PDEATHSIG)
        _wait_gone(pid, 5)
        head_files.remove_info(root, pid)
        print(f"greenroom head (pid {pid}) did not stop within {STOP_TIMEOUT_S:.0f} s and was killed")
        return 0
    print(f"greenroom head (pid {pid}) stopped")
    return 0


def _wait_gone(pid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not head_files.pid_alive(pid):
            return True
        time.sleep(0.05)  # polling another process's exit, with a deadline
    return False


# -- status -----------------------------------------------------------------------------------
def _status(args: argparse.Namespace) -> int:
    from greenroom.cli.status import render
    from greenroom.runtime.observer import collect

    root = head_files.temp_root(args.temp_dir)
    info = _running(root)
    print(render(collect(info["socket"]), info))
    return 0


# -- dashboard --------------------------------------------------------------------------------
def _dashboard(args: argparse.Namespace) -> int:
    import threading

    import greenroom
    from greenroom.dashboard import start_dashboard

    root = head_files.temp_root(args.temp_dir)
    info = _running(root)
    greenroom.init(address=info["socket"], log_to_driver=False)
    board = start_dashboard(port=args.port, log_dir=info["log_dir"])
    print(f"greenroom dashboard: {board.url}", flush=True)
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    stop.wait()
    board.stop()
    greenroom.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
