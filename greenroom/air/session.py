"""``ray.air.session``: the older spelling of ``train.report`` and ``train.get_context()``'s getters.

``session.report(metrics, checkpoint=...)`` is ``train.report``: inside a
training worker it reports to the trainer, inside a Tune function trainable to
the trial. The getters read ``train.get_context()``.
"""

from __future__ import annotations

from typing import Any

from greenroom.train.context import get_checkpoint, get_context, get_dataset_shard
from greenroom.train.context import report as _report
from greenroom.tune.checkpoint import Checkpoint

__all__ = [
    "get_checkpoint", "get_dataset_shard", "get_experiment_name", "get_local_rank", "get_local_world_size",
    "get_node_rank", "get_trial_dir", "get_trial_id", "get_trial_name", "get_trial_resources",
    "get_world_rank", "get_world_size", "report",
]  # fmt: skip


def report(metrics: dict, *, checkpoint: Checkpoint | None = None) -> None:
    """``train.report(metrics, checkpoint=...)``."""
    _report(metrics, checkpoint=checkpoint)


def get_experiment_name() -> str | None:
    return get_context().get_experiment_name()


def get_trial_name() -> str | None:
    return get_context().get_trial_name()


def get_trial_id() -> str | None:
    return get_context().get_trial_id()


def get_trial_dir() -> str | None:
    return get_context().get_trial_dir()


def get_trial_resources() -> Any:
    return get_context().get_trial_resources()


def get_world_rank() -> int:
    return get_context().get_world_rank()


def get_world_size() -> int:
    return get_context().get_world_size()


def get_local_rank() -> int:
    return get_context().get_local_rank()


def get_local_world_size() -> int:
    return get_context().get_local_world_size()


def get_node_rank() -> int:
    return get_context().get_node_rank()
