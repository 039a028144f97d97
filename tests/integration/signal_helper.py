"""Test-only barrier: a pending object that tasks get() and the test completes.

It reaches into the driver's object table (no public API makes an object
that isn't ready yet), so tests synchronise on the event they mean instead
of sleeping.
"""

from __future__ import annotations

from typing import Any

import greenroom as ray
from greenroom.runtime import serialization, state, wire


class Signal:
    def __init__(self) -> None:
        rt = state.runtime()
        if rt.backend == "ray":  # no object table to reach into: an actor's call that waits
            self._gate = _Gate.remote()
            self.ref = self._gate.wait.remote()
            return
        self._oid = rt.ids.task_id() + b"\0\0\0\0"
        rt.objects.create([self._oid], "signal")
        self.ref = ray.ObjectRef(self._oid)

    def send(self, value: Any = "go") -> None:
        if state.runtime().backend == "ray":
            ray.get(self._gate.open.remote(value), timeout=60)
            return
        state.runtime().objects.complete(self._oid, wire.VALUE, serialization.dumps(value))


@ray.remote
class _Gate:
    """Signal on the Ray backend: ``wait()`` returns the value ``open(value)`` gives."""

    def __init__(self) -> None:
        import asyncio

        self._opened = asyncio.Event()
        self._value = None

    async def wait(self) -> Any:
        await self._opened.wait()
        return self._value

    async def open(self, value: Any) -> None:
        self._value = value
        self._opened.set()


class StartedFlag:
    """A named pipe a task writes to when it starts; the test blocks on it with a deadline."""

    def __init__(self, directory: Any) -> None:
        import os

        self.path = str(directory / f"started-{os.urandom(4).hex()}")
        os.mkfifo(self.path)
        self._fd = os.open(self.path, os.O_RDONLY | os.O_NONBLOCK)

    def set(self) -> None:  # called in the task
        with open(self.path, "w") as f:
            f.write("1")

    def wait(self, timeout: float = 20) -> None:
        import os
        import select

        readable, _, _ = select.select([self._fd], [], [], timeout)
        assert readable, "the task did not start in time"
        os.read(self._fd, 16)

    def close(self) -> None:
        import os

        os.close(self._fd)
