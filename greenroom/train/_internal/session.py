"""Inside a training worker: what ``train.report``, ``get_checkpoint``, ``get_context`` and
``get_dataset_shard`` talk to.

A worker process holds at most one ``WorkerSession``, set by its ``TrainWorker``
actor when the training loop starts. The loop runs in its own thread; each
``report()`` hands an event to the actor's ``next_event()`` and then waits
until the coordinator asks for the next one, which it does once every rank
has reported (see ``rounds.py``), so a report is also a barrier across ranks.
"""

from __future__ import annotations

import os
import queue
import shutil
import threading
from dataclasses import dataclass, field
from typing import Any

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

    def __init__(self, info: WorkerInfo, checkpoint: Checkpoint | None, shards: dict, staging_root: str) -> None:
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
