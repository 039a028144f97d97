"""The actor a training worker is: it hosts one rank's training loop.

The coordinator (``controller.py``) creates one per rank in the trainer's
placement group, runs backend set-up on it with ``execute`` (torch.distributed
for TorchTrainer), starts the loop with ``start``, and then calls
``next_event`` over and over: each call lets the loop past the report it
waits in and returns its next event, ``("report", (metrics, staged, dir_name))``,
``("done", None)`` or ``("error", traceback text)``. It is a sync actor, so
``next_event`` blocks the actor's one thread while the loop runs in its own.
"""

from __future__ import annotations

import contextvars
import inspect
import os
import socket
import threading
import traceback
from typing import Any, Callable

import greenroom as ray
from greenroom.train._internal.session import DONE, ERROR, WorkerInfo, WorkerSession, set_session
from greenroom.tune.checkpoint import Checkpoint


class TrainWorker:
    """One rank of a trainer's worker group (see the module docstring)."""

    def __init__(self, info: WorkerInfo) -> None:
        self.info = info
        self.session: WorkerSession | None = None
        self._asked = False

    def describe(self) -> dict:
        """Who this worker is, once it runs: its pid and devices (for messages and tests)."""
        return {
            "pid": os.getpid(),
            "gpu_ids": [str(g) for g in ray.get_gpu_ids()],
            "cuda_visible_devices": os.environ.get("CUDA_VISIBLE_DEVICES"),
            "hostname": socket.gethostname(),
        }

    def execute(self, fn: Callable, *args: Any, **kwargs: Any) -> Any:
        """Run ``fn`` here: a backend's set-up or tear-down."""
        return fn(*args, **kwargs)

    def start(self, loop: Callable, config: dict | None, checkpoint: str | None, shards: dict,
              staging_root: str) -> None:  # fmt: skip
        """Start the training loop in a thread with this rank's session."""
        restore = Checkpoint(checkpoint) if checkpoint else None
        session = self.session = WorkerSession(self.info, restore, shards, staging_root)
        set_session(session)
        takes_config = len(inspect.signature(loop).parameters) > 0

        def run() -> None:
            try:
                loop(config if config is not None else {}) if takes_config else loop()
                session.events.put((DONE, None, None))
            except BaseException as e:  # noqa: BLE001 - reported to the coordinator as this rank's error
                text = "".join(traceback.format_exception(type(e), e, e.__traceback__))
                session.events.put((ERROR, text, _picklable(e)))

        # The loop sees this actor's context (its GPU ids, resources), as the actor's own thread does.
        context = contextvars.copy_context()
        threading.Thread(target=context.run, args=(run,), name="train-loop", daemon=True).start()

    def next_event(self) -> tuple:
        """Let the loop past the report it waits in (after the first call), then its next event."""
        session = self.session
        if session is None:
            raise RuntimeError("next_event() before start()")
        if self._asked:
            session.go.release()
        self._asked = True
        return session.events.get()


def _picklable(e: BaseException) -> BaseException | None:
    """The exception itself if it survives the trip to the coordinator (for ``__cause__``), else None."""
    import cloudpickle

    try:
        cloudpickle.loads(cloudpickle.dumps(e))
    except Exception:
        return None
    return e
