"""What the trials of one experiment share, and how a suggestion becomes a Trial: pure, no I/O.

A run has one or more experiments (``tune.run_experiments`` runs several at
once); each trial belongs to one, by ``Trial.experiment_name``. The core
reads a trial's rules (its stop criteria, retries, checkpointing) from its
experiment's ``ExperimentSettings``; what it holds is on the trial itself
(``Trial.resources``), because a ``ResourceChangingScheduler`` may change it.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from greenroom.tune.experiment.trial import Trial
from greenroom.tune.resources import PlacementGroupFactory, resources_to_factory
from greenroom.tune.search.search_generator import TrialSuggestion


@dataclass(frozen=True)
class ExperimentSettings:
    """One experiment of a run, as the trial runner's core needs it.

    Args:
        name: the experiment's name (its trials' ``experiment_name``).
        path: the experiment directory; trial directories go under it.
        trainable_name: the prefix of trial names and directories.
        is_class: the trainable is a ``tune.Trainable`` class (it can be asked to save).
        resources: what each trial holds: a PlacementGroupFactory, or a function of the
            trial's config returning one (``tune.with_resources(fn, callable)``,
            ``Trainable.default_resource_request``).
        stop: per-trial stop criteria ``stop(trial_id, result) -> bool`` (a dict ``stop``), or None.
        max_failures: retries of a failed trial; -1 retries forever.
        checkpoint_frequency: save a class trainable every this many iterations; 0 never.
        checkpoint_at_end: save a class trainable when it completes.
        keep: ``CheckpointConfig`` (``num_to_keep``, ``checkpoint_score_attribute``/order), or None.
        trial_name_creator: ``f(trial) -> str``, the trial's name; or None.
        trial_dirname_creator: ``f(trial) -> str``, its directory's name (not a path); or None.
        trainable: the trainable itself; the core never calls it, the shell runs it.
    """

    name: str
    path: str
    trainable_name: str
    is_class: bool = False
    resources: PlacementGroupFactory | Callable[[dict], Any] = field(
        default_factory=lambda: PlacementGroupFactory([{"CPU": 1}])
    )
    stop: Callable[[str, dict], bool] | None = None
    max_failures: int = 0
    checkpoint_frequency: int = 0
    checkpoint_at_end: bool = False
    keep: Any = None
    trial_name_creator: Callable[[Trial], str] | None = None
    trial_dirname_creator: Callable[[Trial], str] | None = None
    trainable: Any = None

    def resources_for(self, config: dict) -> PlacementGroupFactory:
        """The resources a trial with ``config`` asks for.

        Raises:
            TypeError, ValueError: the resources function returned something that is not resources.
        """
        if isinstance(self.resources, PlacementGroupFactory):
            return self.resources
        return resources_to_factory(self.resources(config))


def new_trial(settings: ExperimentSettings, suggestion: TrialSuggestion, index: int) -> Trial:
    """The PENDING trial for ``suggestion``, the ``index``-th of the run, named and placed.

    Raises:
        ValueError: ``trial_dirname_creator`` returned a path rather than a name.
    """
    s = suggestion
    trial = Trial(
        trial_id=s.trial_id, config=s.config, experiment_tag=s.experiment_tag,
        evaluated_params=s.evaluated_params, resources=settings.resources_for(s.config),
        trainable_name=settings.trainable_name, experiment_name=settings.name,
    )  # fmt: skip
    if settings.trial_name_creator is not None:
        trial.custom_trial_name = str(settings.trial_name_creator(trial))
    if settings.trial_dirname_creator is not None:
        dirname = str(settings.trial_dirname_creator(trial))
        if os.sep in dirname or dirname in ("", ".", ".."):
            raise ValueError(
                f"trial_dirname_creator returned {dirname!r} for trial {trial.trial_id}: return a "
                "directory name (no path separators), unique per trial, e.g. with trial.trial_id in it"
            )
    else:
        tag = s.experiment_tag.replace("/", "_")[:60] or str(index)
        dirname = f"{settings.trainable_name}_{s.trial_id}_{index:05d}_{tag}"
    trial.path = os.path.join(settings.path, dirname)
    return trial
