"""Run every program in this folder, each in a fresh interpreter, and report PASS, FAIL or HANG.

    PYTHONPATH=/path/to/a/greenroom/checkout python examples/ray_docs/run.py [--timeout 60] [--jobs 1] [names...]

The greenroom that runs is whichever ``import greenroom`` finds with the caller's environment
(``PYTHONPATH`` first); the first line printed says which. A program passes when it exits with
status 0 within the timeout. A program still running at the timeout is killed with its whole
process group (its workers too) and reported as HANG. The last line is "N passed, M failed".
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
PROGRAM = re.compile(r"^\d\d_\w+\.py$")
ERROR_LINE = re.compile(r"^([A-Za-z_][\w.]*(Error|Exception|Exit|Interrupt|Warning)|[A-Za-z_][\w.]*Error\(|AssertionError)")


@dataclass
class Result:
    name: str
    status: str  # "PASS", "FAIL" or "HANG"
    seconds: float
    last_line: str
    output: str


def programs(names: list[str] | None = None) -> list[Path]:
    """The numbered programs in this folder, in order, optionally only those whose names contain one of ``names``."""
    found = sorted(p for p in HERE.iterdir() if PROGRAM.match(p.name))
    if names:
        found = [p for p in found if any(n in p.name for n in names)]
    return found


def last_error_line(output: str) -> str:
    """The line that names the error: the last exception line of a traceback, else the last line."""
    lines = [line.rstrip() for line in output.splitlines() if line.strip()]
    for line in reversed(lines):
        if ERROR_LINE.match(line.strip()):
            return line.strip()
    return lines[-1].strip() if lines else ""


def run_program(path: Path, timeout: float = 60.0, env: dict | None = None) -> Result:
    """Run one program in a fresh interpreter, in its own process group, killed whole at the timeout."""
    start = time.monotonic()
    proc = subprocess.Popen(
        [sys.executable, str(path)],
        cwd=str(path.parent),
        env=env if env is not None else os.environ.copy(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        output, _ = proc.communicate(timeout=timeout)
        hung = False
    except subprocess.TimeoutExpired:
        hung = True
        _kill_group(proc)
        output, _ = proc.communicate()
    _kill_group(proc)  # workers a finished program left behind
    seconds = time.monotonic() - start
    if hung:
        return Result(path.name, "HANG", seconds, f"no exit within {timeout:.0f} s; last output: "
                      f"{last_error_line(output)}", output)
    if proc.returncode == 0:
        return Result(path.name, "PASS", seconds, "", output)
    return Result(path.name, "FAIL", seconds, last_error_line(output) or f"exit status {proc.returncode}", output)


def _kill_group(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("names", nargs="*", help="run only programs whose file name contains one of these")
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds per program (default 60)")
    parser.add_argument("--jobs", type=int, default=1, help="programs run at once (default 1)")
    parser.add_argument("-v", "--verbose", action="store_true", help="print the whole output of failures")
    args = parser.parse_args(argv)

    which = subprocess.run(
        [sys.executable, "-c", "import greenroom, subprocess, os; d = os.path.dirname(os.path.dirname("
         "greenroom.__file__)); r = subprocess.run(['git', '-C', d, 'rev-parse', '--short', 'HEAD'], "
         "capture_output=True, text=True); print(d, r.stdout.strip())"],
        capture_output=True, text=True, cwd=str(HERE),
    )
    print(f"greenroom from {which.stdout.strip() or which.stderr.strip().splitlines()[-1]}", flush=True)

    paths = programs(args.names)
    with ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        futures = [pool.submit(run_program, p, args.timeout) for p in paths]
        results = []
        for future in futures:
            r = future.result()
            results.append(r)
            detail = f"  {r.last_line}" if r.status != "PASS" else ""
            print(f"{r.status:4}  {r.name:34} {r.seconds:5.1f}s{detail}", flush=True)
            if args.verbose and r.status != "PASS":
                print("    | " + "\n    | ".join(r.output.splitlines()[-30:]), flush=True)
    passed = sum(r.status == "PASS" for r in results)
    hung = sum(r.status == "HANG" for r in results)
    failed = len(results) - passed
    print(f"{passed} passed, {failed} failed" + (f" ({hung} of them hung)" if hung else ""))
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
