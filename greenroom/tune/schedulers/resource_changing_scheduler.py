"""``ResourceChangingScheduler``: changes the resources of live trials as the experiment goes, as Ray's.

It wraps another scheduler. After each result the base scheduler lets
continue, it asks ``resources_allocation_function`` for the trial's new
resources; when they differ, it answers PAUSE (the trial saves a checkpoint
if it is a class, and its actor stops) and gives the trial the new resources
when it is chosen to run again, so it restarts from its checkpoint holding
them. A trial reads what it holds with ``tune.get_context().get_trial_resources()``
(function) or ``self.trial_resources`` (class); a function trainable should
checkpoint on every report, or a restart begins from its last checkpoint.
"""

from __future__ import annotations

import logging
import warnings
from typing import Any, Callable

from greenroom.tune.experiment.trial import RUNNING, Trial
from greenroom.tune.resources import PlacementGroupFactory, resources_to_factory
from greenroom.tune.schedulers._distribute_resources import DistributeResources, DistributeResourcesToTopJob
from greenroom.tune.schedulers.trial_scheduler import FIFOScheduler, TrialController, TrialScheduler

__all__ = ["DistributeResources", "DistributeResourcesToTopJob", "ResourceChangingScheduler"]

logger = logging.getLogger(__name__)

_DistributeResourcesDefault = DistributeResources(add_bundles=False)
_DistributeResourcesDistributedDefault = DistributeResources(add_bundles=True)

AllocationFunction = Callable[[Any, Trial, dict, "ResourceChangingScheduler"], Any]
_DEFAULT: Any = object()  # each scheduler gets its own DistributeResources()


class ResourceChangingScheduler(TrialScheduler):
    """Wraps ``base_scheduler`` and changes live trials' resources with ``resources_allocation_function``.

    Args:
        base_scheduler: decides on results as usual; default FIFOScheduler.
        resources_allocation_function: ``f(tune_controller, trial, result, scheduler)`` returning
            the trial's new resources (a PlacementGroupFactory or a dict) or None to keep them.
            The controller has ``get_live_trials()``, ``get_trials()`` and ``_resource_updater``
            (``get_num_cpus()``, ``get_num_gpus()``). Default: ``DistributeResources()``;
            None changes nothing.
    Raises:
        RuntimeError: (from ``on_trial_add``) trials with different starting resources.
    """

    def __init__(self, base_scheduler: TrialScheduler | None = None,
                 resources_allocation_function: AllocationFunction | None = _DEFAULT) -> None:  # fmt: skip
        if resources_allocation_function is None:
            warnings.warn(
                "`resources_allocation_function` is None. No resource requirements will be changed at "
                "any time. Pass a correctly defined function to enable functionality.",
                stacklevel=2,
            )
        elif resources_allocation_function is _DEFAULT:
            resources_allocation_function = DistributeResources()
        self._resources_allocation_function = resources_allocation_function
        self._base_scheduler = base_scheduler or FIFOScheduler()
        self._base_trial_resources: PlacementGroupFactory | None = None
        self._trials_to_reallocate: dict[str, tuple[Trial, PlacementGroupFactory]] = {}
        self._reallocated_trial_ids: set[str] = set()

    # -- search properties ----------------------------------------------------------------------
    @property
    def metric(self) -> str | None:
        return self._base_scheduler.metric

    @property
    def mode(self) -> str | None:
        return self._base_scheduler.mode

    @property
    def supports_buffered_results(self) -> bool:
        return self._base_scheduler.supports_buffered_results

    @property
    def base_trial_resources(self) -> PlacementGroupFactory | None:
        """The resources of the first trial added: every trial starts with them."""
        return self._base_trial_resources

    def set_search_properties(self, metric: str | None, mode: str | None, **spec: Any) -> bool:
        self._metric, self._mode = metric, mode
        return self._base_scheduler.set_search_properties(metric, mode, **spec)

    # -- events -----------------------------------------------------------------------------------
    def on_trial_add(self, controller: TrialController, trial: Trial) -> None:
        if self._base_trial_resources is None:
            self._base_trial_resources = trial.placement_group_factory
        elif (
            trial.trial_id not in self._reallocated_trial_ids
            and trial.placement_group_factory != self._base_trial_resources
        ):
            raise RuntimeError(
                "ResourceChangingScheduler doesn't support trials with varying base resources. First trial "
                f"had {self._base_trial_resources}, trial {trial} has {trial.placement_group_factory}."
            )
        self._base_scheduler.on_trial_add(controller, trial)

    def on_trial_error(self, controller: TrialController, trial: Trial) -> None:
        self._trials_to_reallocate.pop(trial.trial_id, None)
        self._base_scheduler.on_trial_error(controller, trial)

    def on_trial_result(self, controller: TrialController, trial: Trial, result: dict) -> str:
        """The base scheduler's decision; PAUSE instead of CONTINUE when the trial's resources change."""
        decision = self._base_scheduler.on_trial_result(controller, trial, result)
        if decision == TrialScheduler.CONTINUE:
            new_resources = self.reallocate_trial_resources_if_needed(controller, trial, result)
            if new_resources is not None:
                self._trials_to_reallocate[trial.trial_id] = (trial, new_resources)
                return TrialScheduler.PAUSE
        return decision

    def on_trial_complete(self, controller: TrialController, trial: Trial, result: dict) -> None:
        self._trials_to_reallocate.pop(trial.trial_id, None)
        self._base_scheduler.on_trial_complete(controller, trial, result)

    def on_trial_remove(self, controller: TrialController, trial: Trial) -> None:
        self._trials_to_reallocate.pop(trial.trial_id, None)
        self._base_scheduler.on_trial_remove(controller, trial)

    def choose_trial_to_run(self, controller: TrialController) -> Trial | None:
        """Give paused trials their new resources, then let the base scheduler choose."""
        for trial_id, (trial, new_resources) in list(self._trials_to_reallocate.items()):
            if trial.status != RUNNING:
                self.set_trial_resources(trial, new_resources)
                del self._trials_to_reallocate[trial_id]
        return self._base_scheduler.choose_trial_to_run(controller)

    def pop_trials_to_stop(self) -> list[Trial]:
        return self._base_scheduler.pop_trials_to_stop()

    def debug_string(self) -> str:
        return f"(ResourceChangingScheduler) {self._base_scheduler.debug_string()}"

    # -- resources ------------------------------------------------------------------------------
    def set_trial_resources(self, trial: Trial, new_resources: Any) -> bool:
        """Give a trial that is not running ``new_resources``; True if it got any."""
        if not new_resources:
            return False
        logger.info("Setting trial %s resources to %s", trial, new_resources)
        trial.update_resources(resources_to_factory(new_resources))
        self._reallocated_trial_ids.add(trial.trial_id)
        return True

    def _are_resources_the_same(self, trial: Trial, new_resources: Any) -> bool:
        return (
            isinstance(new_resources, PlacementGroupFactory)
            and trial.placement_group_factory == new_resources
        )

    def reallocate_trial_resources_if_needed(self, controller: TrialController, trial: Trial,
                                             result: dict) -> PlacementGroupFactory | None:  # fmt: skip
        """The allocation function's new resources for ``trial``, or None when they do not change."""
        allocate = self._resources_allocation_function
        if allocate is None:
            return None
        if getattr(allocate, "metric", None) is None and hasattr(allocate, "metric"):
            allocate.metric = self._base_scheduler.metric or getattr(self, "_metric", None)
        if getattr(allocate, "mode", None) is None and hasattr(allocate, "mode"):
            allocate.mode = self._base_scheduler.mode or getattr(self, "_mode", None)
        new_resources = allocate(controller, trial, result, self)
        if not new_resources:
            return None
        new_resources = resources_to_factory(new_resources)
        return None if self._are_resources_the_same(trial, new_resources) else new_resources
