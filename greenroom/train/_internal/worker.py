"""A training worker: the actor that hosts one rank's loop, and the session the loop talks to.

The coordinator (``controller.py``) creates one ``TrainWorker`` per rank in the
trainer's placement group, runs backend set-up on it with ``execute``
(torch.distributed for TorchTrainer), starts the loop with ``start``, and then
calls ``next_event`` over and over: each call lets the loop past the report it
waits in and returns its next event, ``("report", (metrics, staged, dir_name))``,
``("done", None)`` or ``("error", traceback text)``. It is a sync actor, so
``next_event`` blocks the actor's one thread while the loop runs in its own.

Inside the loop, ``train.report``, ``get_checkpoint``, ``get_context`` and
``get_dataset_shard`` talk to the process's one ``WorkerSession``. Each
``report()`` hands an event to ``next_event()`` and then waits until the
coordinator asks for the next one, which it does once every rank has reported
(see ``rounds.py``), so a report is also a barrier across ranks.
"""

from __future__ import annotations

import contextvars
import inspect
import os
import queue
import shutil
import socket
import threading
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import greenroom as ray
from greenroom.tune.checkpoint import Checkpoint

REPORT = "report"
DONE = "done"
ERROR = "error"


@dataclass(frozen=True)
class WorkerInfo:
    """Who a worker is in its group, and the run it belongs to."""

    world_rank: int
    world_size: int
    local_rank: int
    local_world_size: int
    node_rank: int
    experiment_name: str
    trial_name: str | None = None
    trial_id: str | None = None
    trial_dir: str | None = None
    trial_resources: Any = None
    metadata: dict = field(default_factory=dict)


class WorkerSession:
    """One training loop's session in its worker (see the module docstring)."""

    def __init__(
        self, info: WorkerInfo, checkpoint: Checkpoint | None, shards: dict, staging_root: str
    ) -> None:
        self.info = info
        self.checkpoint = checkpoint
        self.shards = shards
        self.staging_root = staging_root
        self.reports = 0
        self.events: queue.Queue = queue.Queue()
        self.go = threading.Semaphore(0)

    def report(self, metrics: dict, checkpoint: Checkpoint | None, dir_name: str | None) -> None:
        """Stage the checkpoint (the caller may delete its directory once this returns), hand the
        report over, and wait until every rank has reported and the coordinator asks for more."""
        staged = None
        if checkpoint is not None:
            # Every rank that gives a checkpoint writes into the same directory: Ray merges them.
            staged = os.path.join(self.staging_root, f"report_{self.reports:06d}")
            shutil.copytree(checkpoint.path, staged, dirs_exist_ok=True)
        self.reports += 1
        self.events.put((REPORT, (dict(metrics), staged, dir_name), None))
        self.go.acquire()


_session: WorkerSession | None = None


def set_session(session: WorkerSession | None) -> None:
    global _session
    _session = session


def current() -> WorkerSession | None:
    """This process's worker session, or None outside a training worker."""
    return _session


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
            except BaseException as e:
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
