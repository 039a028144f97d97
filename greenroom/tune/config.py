"""The configuration objects of a run: ``TuneConfig``, ``RunConfig``, ``CheckpointConfig``, ``FailureConfig``.

Plain dataclasses with Ray's fields and defaults; ``Tuner`` (``tuner.py``) and
``tune.run``/``tune.Experiment`` read them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class FailureConfig:
    """``max_failures`` retries a failed trial from its last checkpoint. ``fail_fast=True`` stops
    the experiment at the first trial error (``fit()`` returns, the error in ``ResultGrid.errors``);
    ``fail_fast="raise"`` also re-raises the trial's exception from ``fit()``."""

    max_failures: int = 0
    fail_fast: bool | str = False


@dataclass
class CheckpointConfig:
    num_to_keep: int | None = None
    checkpoint_score_attribute: str | None = None
    checkpoint_score_order: str = "max"
    checkpoint_frequency: int = 0
    checkpoint_at_end: bool | None = None


@dataclass
class TuneConfig:
    metric: str | None = None
    mode: str | None = None
    search_alg: Any = None
    scheduler: Any = None
    num_samples: int = 1
    max_concurrent_trials: int | None = None
    time_budget_s: float | None = None
    reuse_actors: bool | None = None
    trial_name_creator: Any = None
    trial_dirname_creator: Any = None


@dataclass
class RunConfig:
    name: str | None = None
    storage_path: str | None = None
    stop: Any = None
    callbacks: list | None = None
    failure_config: FailureConfig = field(default_factory=FailureConfig)
    checkpoint_config: CheckpointConfig = field(default_factory=CheckpointConfig)
    verbose: int = 3
    progress_reporter: Any = None
    log_to_file: bool = False
    sync_config: Any = None
