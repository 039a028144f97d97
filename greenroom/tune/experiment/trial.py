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
    trainable_name: str = ""
    experiment_name: str = ""  # which experiment of the run it belongs to (tune.run_experiments)
    custom_trial_name: str | None = None  # what trial_name_creator returned

    @property
    def trial_name(self) -> str:
        """``trial_name_creator``'s name, else ``<trainable>_<id>``."""
        if self.custom_trial_name:
            return self.custom_trial_name
        return f"{self.trainable_name}_{self.trial_id}" if self.trainable_name else self.trial_id

    @property
    def placement_group_factory(self) -> Any:
        """Ray's name for ``resources``."""
        return self.resources

    @property
    def local_path(self) -> str | None:
        """Ray's name for the trial's directory (``path``)."""
        return self.path

    @property
    def logdir(self) -> str | None:
        """Ray's older name for the trial's directory."""
        return self.path

    def update_resources(self, resources: Any) -> None:
        """Give a trial that is not running new resources, used from its next start on
        (``ResourceChangingScheduler``). Raises ValueError for a RUNNING trial."""
        if self.status == RUNNING:
            raise ValueError(f"cannot change the resources of running trial {self}; pause it first")
        self.resources = resources

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
