"""``train.report``, ``get_checkpoint``, ``get_context`` and ``get_dataset_shard``.

They work in two places, as in Ray 2.7-2.40:

- inside ``train_loop_per_worker``, in a training worker: a report goes to the
  trainer's coordinator (rank 0's metrics become the result; every rank must
  report the same number of times);
- inside a Tune function trainable: a report goes to the trial, exactly as
  ``tune.report`` (programs written for Ray 2.7-2.40 report through
  ``from ray import train``).

Anywhere else they raise a clear error instead of doing nothing.
"""

from __future__ import annotations

from typing import Any

from greenroom.train._internal import worker as worker_session
from greenroom.tune.checkpoint import Checkpoint
from greenroom.tune.trainable import session as trial_session


def _outside(what: str) -> RuntimeError:
    return RuntimeError(
        f"train.{what}() was called outside a training worker and outside a Tune trial; call it "
        "inside train_loop_per_worker (run by a trainer's fit()) or inside a trainable that "
        "Tuner.fit() or tune.run() runs"
    )


class TrainContext:
    """Who this worker is in its group and its run (Ray's ``ray.train.get_context()``).

    In a Tune trial that is not a training worker, it is rank 0 of a group of one.
    """

    def __init__(self, *, world_rank: int = 0, world_size: int = 1, local_rank: int = 0,
                 local_world_size: int = 1, node_rank: int = 0, experiment_name: str | None = None,
                 trial_name: str | None = None, trial_id: str | None = None, trial_dir: str | None = None,
                 trial_resources: Any = None, metadata: dict | None = None) -> None:  # fmt: skip
        self._world_rank = world_rank
        self._world_size = world_size
        self._local_rank = local_rank
        self._local_world_size = local_world_size
        self._node_rank = node_rank
        self._experiment_name = experiment_name
        self._trial_name = trial_name
        self._trial_id = trial_id
        self._trial_dir = trial_dir
        self._trial_resources = trial_resources
        self._metadata = dict(metadata or {})

    def get_world_rank(self) -> int:
        """This worker's rank among all workers, 0 .. world size - 1."""
        return self._world_rank

    def get_world_size(self) -> int:
        """How many workers the trainer runs."""
        return self._world_size

    def get_local_rank(self) -> int:
        """This worker's rank among the workers on its node (on one machine, its world rank)."""
        return self._local_rank

    def get_local_world_size(self) -> int:
        return self._local_world_size

    def get_node_rank(self) -> int:
        """Its node's rank: 0, greenroom runs on one machine."""
        return self._node_rank

    def get_experiment_name(self) -> str | None:
        """The run's name (``RunConfig(name=...)``), or the Tune experiment's in a Tuner(trainer) trial."""
        return self._experiment_name

    def get_trial_name(self) -> str | None:
        """The Tune trial's name, or the run's name outside Tune."""
        return self._trial_name

    def get_trial_id(self) -> str | None:
        return self._trial_id

    def get_trial_dir(self) -> str | None:
        return self._trial_dir

    def get_trial_resources(self) -> Any:
        return self._trial_resources

    def get_metadata(self) -> dict:
        """The trainer's ``metadata=`` dict."""
        return dict(self._metadata)

    def __repr__(self) -> str:
        rank, size = self._world_rank, self._world_size
        return f"TrainContext(world_rank={rank}, world_size={size}, trial={self._trial_name!r})"


def get_context() -> TrainContext:
    """This worker's TrainContext (or, in a Tune trial, the trial's as rank 0 of one)."""
    worker = worker_session.current()
    if worker is not None:
        i = worker.info
        return TrainContext(
            world_rank=i.world_rank, world_size=i.world_size, local_rank=i.local_rank,
            local_world_size=i.local_world_size, node_rank=i.node_rank, experiment_name=i.experiment_name,
            trial_name=i.trial_name, trial_id=i.trial_id, trial_dir=i.trial_dir,
            trial_resources=i.trial_resources, metadata=i.metadata,
        )  # fmt: skip
    trial = trial_session.current_session()
    if trial is not None:
        i = trial.info
        return TrainContext(experiment_name=i.experiment_name, trial_name=i.trial_name, trial_id=i.trial_id,
                            trial_dir=i.trial_dir, trial_resources=i.resources)  # fmt: skip
    raise _outside("get_context")


def report(
    metrics: dict, *, checkpoint: Checkpoint | None = None, checkpoint_dir_name: str | None = None
) -> None:
    """Report ``metrics`` (and a checkpoint directory) for this round, or to the Tune trial.

    In a worker, this waits until every rank has reported (each call is a round), and the
    checkpoint's files are copied into the run's storage before it returns: the directory
    may be deleted afterwards. Every rank that passes a checkpoint adds its files to the
    same checkpoint; ``checkpoint_dir_name`` names its directory.

    Raises:
        TypeError: metrics not a dict, or checkpoint not a ``train.Checkpoint``.
        RuntimeError: outside a training worker and a Tune trial.
    """
    if not isinstance(metrics, dict):
        raise TypeError(f"train.report() expects a dict of metrics, got {metrics!r:.100}")
    if checkpoint is not None and not isinstance(checkpoint, Checkpoint):
        raise TypeError(
            f"checkpoint={checkpoint!r:.100}: expected a train.Checkpoint (Checkpoint.from_directory(d))"
        )
    if checkpoint_dir_name is not None and (
        not isinstance(checkpoint_dir_name, str) or "/" in checkpoint_dir_name
    ):
        raise ValueError(
            f"checkpoint_dir_name={checkpoint_dir_name!r}: expected a directory name without '/'"
        )
    worker = worker_session.current()
    if worker is not None:
        worker.report(metrics, checkpoint, checkpoint_dir_name)
        return
    if trial_session.current_session() is not None:
        trial_session.report(metrics, checkpoint=checkpoint)
        return
    raise _outside("report")


def get_checkpoint() -> Checkpoint | None:
    """The checkpoint to resume from: the last one committed before a failed attempt, the
    trainer's ``resume_from_checkpoint``, or the trial's (after a Tune retry or a PBT exploit)."""
    worker = worker_session.current()
    if worker is not None:
        return worker.checkpoint
    if trial_session.current_session() is not None:
        return trial_session.get_checkpoint()
    raise _outside("get_checkpoint")


def get_dataset_shard(dataset_name: str | None = None) -> Any:
    """This worker's contiguous slice of the trainer's ``datasets[dataset_name]``.

    Raises:
        KeyError: no dataset by that name; the message lists the names given.
        RuntimeError: outside a training worker.
    """
    worker = worker_session.current()
    if worker is None:
        raise RuntimeError(
            "train.get_dataset_shard() was called outside a training worker; call it inside "
            "train_loop_per_worker, and pass the data as the trainer's datasets={name: data}"
        )
    shards = worker.shards
    if dataset_name is None and len(shards) == 1:
        return next(iter(shards.values()))
    if dataset_name not in shards:
        raise KeyError(f"no dataset named {dataset_name!r}; the trainer's datasets= has {sorted(shards)}")
    return shards[dataset_name]
