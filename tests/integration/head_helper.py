"""Test helpers for a head node: start one with the CLI, run drivers in processes, stop it.

A detached head is not a child of the test process (the CLI starts it in a
session of its own), so the conftest leak check can't see it: ``Head.stop``
checks that the head and everything it started are gone.
"""

from __future__ import annotations

import json
import os
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from typing import Any

import psutil

DEADLINE_S = 30.0
TESTS_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def cli(*args: str, temp_dir: str, check: bool = True, timeout: float = DEADLINE_S) -> subprocess.CompletedProcess:
    """``python -m greenroom ARGS --temp-dir DIR``."""
    out = subprocess.run(
        [sys.executable, "-m", "greenroom", *args, "--temp-dir", temp_dir],
        capture_output=True, text=True, timeout=timeout,
    )  # fmt: skip
    if check and out.returncode != 0:
        raise AssertionError(f"greenroom {' '.join(args)} exited {out.returncode}:\n{out.stdout}\n{out.stderr}")
    return out


class Head:
    """A head started by ``greenroom start --head`` in a private temp dir."""

    def __init__(self, *start_args: str) -> None:
        self.temp_dir = tempfile.mkdtemp(prefix="grh-")  # short: a socket path has at most 107 bytes
        self.started = cli("start", "--head", *start_args, temp_dir=self.temp_dir)
        with open(os.path.join(self.temp_dir, "head.json")) as f:
            self.info = json.load(f)
        self.pid: int = self.info["pid"]
        self.socket: str = self.info["socket"]

    def env(self) -> dict[str, str]:
        """The environment of a driver that attaches with address="auto"."""
        env = dict(os.environ, GREENROOM_TEMP_DIR=self.temp_dir, PYTHONFAULTHANDLER="1")
        env["PYTHONPATH"] = os.pathsep.join([TESTS_DIR, os.path.join(TESTS_DIR, "integration"),
                                             env.get("PYTHONPATH", "")])  # fmt: skip
        return env

    def descendants(self) -> list[psutil.Process]:
        try:
            return psutil.Process(self.pid).children(recursive=True)
        except psutil.NoSuchProcess:
            return []

    def stop(self) -> None:
        """Stop the head (if it still runs) and check that nothing it started is left."""
        procs = self.descendants()
        try:
            procs.append(psutil.Process(self.pid))
        except psutil.NoSuchProcess:
            pass
        if any(p.is_running() and p.status() != psutil.STATUS_ZOMBIE for p in procs if p.pid == self.pid):
            cli("stop", temp_dir=self.temp_dir)
        deadline = time.monotonic() + DEADLINE_S
        alive = procs
        while alive and time.monotonic() < deadline:
            alive = [p for p in alive if _running(p)]
            time.sleep(0.05)  # polling the OS for processes to end, with a deadline
        shutil.rmtree(self.temp_dir, ignore_errors=True)
        assert not alive, f"left behind by the head: {[(p.pid, p.cmdline()) for p in alive]}"


def _running(p: psutil.Process) -> bool:
    try:
        return p.is_running() and p.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


class Driver:
    """A driver program in its own process; it talks to the test through stdout lines."""

    def __init__(self, head: Head, code: str, cwd: str | None = None) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-c", code], env=head.env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            stdin=subprocess.PIPE, text=True, bufsize=1, cwd=cwd,
        )  # fmt: skip
        self.lines: list[str] = []

    def expect(self, prefix: str, timeout: float = DEADLINE_S) -> str:
        """Read stdout lines until one starts with ``prefix``; returns the rest of it."""
        deadline = time.monotonic() + timeout
        while True:
            for line in self.lines:
                if line.startswith(prefix):
                    self.lines.remove(line)
                    return line[len(prefix):].strip()
            left = deadline - time.monotonic()
            if left <= 0:
                self.proc.send_signal(signal.SIGABRT)  # faulthandler prints every thread's stack
                _, err = self.proc.communicate(timeout=DEADLINE_S)
                raise TimeoutError(f"driver never printed {prefix!r}; it printed {self.lines}; stderr:\n{err}")
            ready, _, _ = select.select([self.proc.stdout], [], [], left)
            if ready:
                line = self.proc.stdout.readline()
                if not line:
                    err = self.proc.stderr.read()
                    raise AssertionError(f"driver exited before printing {prefix!r}:\n{err}")
                self.lines.append(line.rstrip("\n"))

    def say(self, text: str) -> None:
        self.proc.stdin.write(text + "\n")
        self.proc.stdin.flush()

    def finish(self, timeout: float = DEADLINE_S) -> tuple[int, str, str]:
        out, err = self.proc.communicate(timeout=timeout)
        return self.proc.returncode, out, err

    def kill(self) -> None:
        self.proc.kill()
        self.proc.communicate(timeout=DEADLINE_S)


def attach_env(head: Head) -> Any:
    """A context manager: GREENROOM_TEMP_DIR set, so init(address="auto") finds ``head``."""
    import contextlib

    @contextlib.contextmanager
    def scope():
        old = os.environ.get("GREENROOM_TEMP_DIR")
        os.environ["GREENROOM_TEMP_DIR"] = head.temp_dir
        try:
            yield
        finally:
            if old is None:
                os.environ.pop("GREENROOM_TEMP_DIR", None)
            else:
                os.environ["GREENROOM_TEMP_DIR"] = old

    return scope()
