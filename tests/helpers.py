"""Plain helpers the tests import (``from helpers import wait_for``).

A module, not a fixture: task bodies running in worker processes call it too.
tests/ is on sys.path because tests/conftest.py is there (pytest's default
import mode), and workers start with the driver's sys.path.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from typing import Callable

import psutil

DEADLINE_S = 20.0
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))  # the checkout


def wait_for(
    predicate: Callable[[], object], what: str, timeout: float = DEADLINE_S, interval: float = 0.01
) -> None:
    """Poll ``predicate`` until it is true, for state with no event to wait on.

    Args:
        predicate: called until it returns something true.
        what: what is awaited, for the message ("the task to start").
        timeout: seconds before giving up.
        interval: seconds between polls.

    Raises:
        TimeoutError: ``predicate`` was still false after ``timeout`` seconds; the message names ``what``.
    """
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError(f"gave up after {timeout} s waiting for {what}")
        time.sleep(interval)  # polling state another thread or process changes, bounded by the deadline


def process_ended(pid: int) -> bool:
    """True once ``pid`` has exited (gone, or a zombie not yet reaped); race-free against the reap."""
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def run_python(code: str, timeout: float, **env: str | None) -> subprocess.CompletedProcess:
    """Run ``code`` in a new interpreter that imports this checkout's greenroom, with ``env``
    changed (None removes a variable); its output captured as text."""
    environ = {**os.environ, "PYTHONPATH": ROOT}
    for name, value in env.items():
        if value is None:
            environ.pop(name, None)
        else:
            environ[name] = value
    return subprocess.run([sys.executable, "-c", code], env=environ, capture_output=True, text=True,
                          timeout=timeout, check=False)  # fmt: skip
