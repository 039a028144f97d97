"""The one global: a pointer to this process's runtime (driver or worker).

Everything else hangs off that object; ``shutdown()`` drops it.
"""

from __future__ import annotations

import threading
from typing import Any

_runtime: Any = None
_lock = threading.RLock()


def runtime() -> Any:
    """The current runtime, starting a default node on first use (as Ray does)."""
    rt = _runtime
    if rt is not None:
        return rt
    from greenroom.runtime import api

    api.init()
    return _runtime


def current() -> Any:
    """The runtime if one is running, else None (never starts one)."""
    return _runtime


def set_runtime(rt: Any) -> None:
    global _runtime
    _runtime = rt


def lock() -> threading.RLock:
    return _lock
