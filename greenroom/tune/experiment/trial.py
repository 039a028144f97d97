"""A trial as the runner, schedulers and searchers see it: plain data, no I/O.

The trial runner owns Trial objects and changes them; schedulers read them
and answer with decisions (see tune/schedulers/trial_scheduler.py). Status
names are Ray's.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

PENDING = "PENDING"
RUNNING = "RUNNING"
PAUSED = "PAUSED"
TERMINATED = "TERMINATED"
ERROR = "ERROR"


@dataclass(eq=False)
class Trial:
    """One run of the trainable with one config."""

    trial_id: str
    config: dict
    experiment_tag: str = ""
    status: str = PENDING
    last_result: dict = field(default_factory=dict)
    results: list = field(default_factory=list)  # every reported result, in order
    checkpoint: Any = None  # tune.Checkpoint of the latest save, or None
    checkpoint_iteration: int = 0  # training_iteration when that checkpoint was taken
    checkpoint_time: float = 0.0  # time_total_s then: a restored trial counts on from these
    path: str | None = None  # the trial's directory
    error: str | None = None  # traceback text when status == ERROR
    num_failures: int = 0
    resources: Any = None  # tune.PlacementGroupFactory
    evaluated_params: dict = field(default_factory=dict)  # the sampled values, flat ("a/b": v)

    @property
    def trial_name(self) -> str:
        return f"{self.trainable_name}_{self.trial_id}" if self.trainable_name else self.trial_id

    trainable_name: str = ""

    def metric(self, name: str, default: Any = None) -> Any:
        """The last reported value of ``name`` (nested keys with '/')."""
        return lookup(self.last_result, name, default)

    def __str__(self) -> str:
        return self.trial_name

    def __repr__(self) -> str:
        return f"Trial({self.trial_name}, {self.status})"


def lookup(result: dict, name: str, default: Any = None) -> Any:
    """``result["a"]["b"]`` for ``"a/b"`` (Ray flattens nested metrics with '/')."""
    if name in result:
        return result[name]
    value: Any = result
    for part in name.split("/"):
        if not isinstance(value, dict) or part not in value:
            return default
        value = value[part]
    return value
