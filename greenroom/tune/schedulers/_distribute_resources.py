"""``DistributeResources`` and ``DistributeResourcesToTopJob``: Ray's resource allocation functions.

An allocation function is called as ``f(tune_controller, trial, result, scheduler)``
after each result a ``ResourceChangingScheduler`` would let continue, and
returns the trial's new resources (a PlacementGroupFactory), or None to keep
them. These split the node's CPUs and GPUs among the live trials in units of
``increase_by`` (1 CPU, or 1 GPU for GPU trials), never below what a trial
started with (``scheduler.base_trial_resources``):

- ``DistributeResources``: evenly. Each live trial may grow up to the share a
  round-robin split of the node beyond the base resources would give it, as
  far as free resources allow; a trial over its share shrinks.
- ``DistributeResourcesToTopJob``: every free unit to the best trial by
  ``metric``/``mode`` that is still below its limit.

With ``add_bundles=False`` the units go into the trial's one bundle; with True
each unit is a bundle of its own (the base resources' last bundle by default).
Only CPUs and GPUs are distributed; the pure arithmetic is on plain dicts.
"""

from __future__ import annotations

import copy
import math
from typing import Any

from greenroom.tune.resources import PlacementGroupFactory

Bundles = list[dict[str, float]]


def _cpu_gpu(bundles: Bundles) -> tuple[float, float]:
    """Total CPUs and GPUs of ``bundles``."""
    return sum(b.get("CPU", 0) for b in bundles), sum(b.get("GPU", 0) for b in bundles)


def _is_empty(bundle: dict[str, float]) -> bool:
    return not (bundle.get("CPU", 0) or bundle.get("GPU", 0))


class DistributeResources:
    """Shares free CPUs and GPUs evenly among the live trials.

    Args:
        add_bundles: add each unit as a new bundle (for trainables that place work on
            bundles); False: grow the trial's single bundle.
        increase_by: the unit, e.g. ``{"CPU": 2}``; default 1 CPU, or 1 GPU when the base
            resources have GPUs (with ``add_bundles``: the base resources' last bundle).
        increase_by_times: at most this many units per trial; -1 (or < 1): no limit.
        reserve_resources: CPUs/GPUs (``{"CPU": 1}``) never given to trials.
    """

    def __init__(
        self,
        add_bundles: bool = False,
        increase_by: dict[str, float] | None = None,
        increase_by_times: int = -1,
        reserve_resources: dict[str, float] | None = None,
    ) -> None:
        self.add_bundles = add_bundles
        self.increase_by = dict(increase_by or {})
        self.increase_by_times = increase_by_times
        self.reserve_resources = dict(reserve_resources or {})
        self.metric: str | None = None  # set by ResourceChangingScheduler from its base scheduler
        self.mode: str | None = None

    # -- the call --------------------------------------------------------------------------------
    def __call__(
        self, tune_controller: Any, trial: Any, result: dict, scheduler: Any
    ) -> PlacementGroupFactory | None:
        """The trial's new resources after ``result``, or None to keep what it has."""
        base = scheduler.base_trial_resources
        if not self._validate(base, result):
            return None
        increase_by = self._unit(base)
        total_cpus, total_gpus = self._get_total_available_resources(tune_controller)
        live = tune_controller.get_live_trials()
        used = [_cpu_gpu(t.placement_group_factory.bundles) for t in live]
        added = self._get_new_added_bundles(
            trial, live, copy.deepcopy(base.bundles), increase_by, total_cpus, total_gpus,
            sum(c for c, _ in used), sum(g for _, g in used),
        )  # fmt: skip
        bundles = self._add_two_bundles(base.bundles, added, increase_by, False)
        return PlacementGroupFactory(bundles, strategy=base.strategy)

    def _validate(self, base: Any, result: dict) -> bool:
        """False when the trial keeps its resources outright (before its first iteration).

        Raises:
            ValueError: the base resources are not a PlacementGroupFactory, or have several
                bundles without ``add_bundles``.
        """
        if not isinstance(base, PlacementGroupFactory):
            raise ValueError(f"{type(self).__name__} only supports PlacementGroupFactories, got {base!r}.")
        if not self.add_bundles and len(base.bundles) > 1:
            raise ValueError(
                "If `add_bundles` is False, the number of bundles in `resources_per_trial` must be 1 "
                f"(got {len(base.bundles)})."
            )
        return result.get("training_iteration", 0) >= 1

    def _unit(self, base: PlacementGroupFactory) -> dict[str, float]:
        if self.increase_by:
            if (
                _is_empty(self.increase_by)
                or min(self.increase_by.get("CPU", 0), self.increase_by.get("GPU", 0)) < 0
            ):
                raise ValueError(f"increase_by={self.increase_by!r}: give a positive amount of CPU or GPU")
            return self.increase_by
        if self.add_bundles:
            return base.bundles[-1]
        return {"GPU": 1} if base.bundles[0].get("GPU", 0) else {"CPU": 1}

    def _get_total_available_resources(self, tune_controller: Any) -> tuple[float, float]:
        """The node's CPUs and GPUs (all of them, not only the free ones) less the reserve."""
        totals = tune_controller._resource_updater
        return (
            totals.get_num_cpus() - self.reserve_resources.get("CPU", 0),
            totals.get_num_gpus() - self.reserve_resources.get("GPU", 0),
        )

    # -- unit arithmetic ---------------------------------------------------------------------------
    def _get_multiplier(
        self, increase_by: dict[str, float], cpus: float = 0, gpus: float = 0, max_multiplier: int = -1
    ) -> int:
        """How many units fit in ``cpus``/``gpus`` (negative when they are negative)."""
        unit_cpu, unit_gpu = increase_by.get("CPU", 0), increase_by.get("GPU", 0)
        if unit_cpu and unit_gpu:
            count = min(cpus // unit_cpu, gpus // unit_gpu)
        elif unit_gpu:
            count = gpus // unit_gpu
        else:
            count = cpus // unit_cpu
        if max_multiplier > 0 and count > 0:
            count = min(max_multiplier, count)
        return int(count)

    def _cap(self, limit: bool, max_times: int) -> int:
        """The most units a trial may have added; 0 or less: no cap."""
        if not limit:
            return max_times
        if max_times > 0 and self.increase_by_times > 0:
            return min(max_times, self.increase_by_times)
        return self.increase_by_times if self.increase_by_times > 0 else max_times

    def _add_two_bundles(
        self,
        bundles_a: Bundles,
        bundles_b: Bundles,
        increase_by: dict[str, float],
        limit_to_increase_by_times: bool,
        max_increase_by_times: int = -1,
    ) -> Bundles:
        """``bundles_a`` plus ``bundles_b``, within the cap on added units when ``limit_...``."""
        cap = self._cap(limit_to_increase_by_times, max_increase_by_times)
        if self.add_bundles:
            bundles = [b for b in bundles_a + bundles_b if not _is_empty(b)]
            return bundles[:cap] if cap > 0 else bundles
        (cpu_a, gpu_a), (cpu_b, gpu_b) = _cpu_gpu((bundles_a or [{}])[:1]), _cpu_gpu((bundles_b or [{}])[:1])
        cpu, gpu = cpu_a + cpu_b, gpu_a + gpu_b
        if cap > 0:
            cpu, gpu = min(cpu, increase_by.get("CPU", 0) * cap), min(gpu, increase_by.get("GPU", 0) * cap)
        return [{"CPU": cpu, "GPU": gpu}]

    def _remove_bundles(self, bundles: Bundles, increase_by: dict[str, float], multiplier: int) -> Bundles:
        count = abs(multiplier)
        if self.add_bundles:
            return bundles[:-count]
        cpu, gpu = _cpu_gpu(bundles[:1])
        return [{"CPU": max(cpu - increase_by.get("CPU", 0) * count, 0),
                 "GPU": max(gpu - increase_by.get("GPU", 0) * count, 0)}]  # fmt: skip

    def _create_new_bundles(self, increase_by: dict[str, float], multiplier: int) -> Bundles:
        count = abs(multiplier)
        if self.add_bundles:
            return [dict(increase_by) for _ in range(count)]
        return [{"CPU": increase_by.get("CPU", 0) * count, "GPU": increase_by.get("GPU", 0) * count}]

    def _modify_bundles_with_free_resources(
        self,
        bundles: Bundles,
        increase_by: dict[str, float],
        free_cpus: float,
        free_gpus: float,
        *,
        max_multiplier: int = -1,
        max_increase_by_times: int = -1,
    ) -> Bundles:
        """``bundles`` grown by the units free resources hold (within the caps), or shrunk by the
        units they are short of."""
        count = self._get_multiplier(increase_by, free_cpus, free_gpus, max_multiplier)
        if count < 0:
            return self._remove_bundles(bundles, increase_by, count)
        if count > 0:
            extra = self._create_new_bundles(increase_by, count)
            return self._add_two_bundles(bundles, extra, increase_by, True, max_increase_by_times)
        return bundles

    def _get_added_bundles(self, bundles: Bundles, base_bundles: Bundles) -> Bundles:
        """What ``bundles`` has beyond ``base_bundles``."""
        if self.add_bundles:
            return bundles[len(base_bundles) :]
        (cpu, gpu), (base_cpu, base_gpu) = _cpu_gpu(bundles[:1]), _cpu_gpu(base_bundles[:1])
        return [{"CPU": cpu - base_cpu, "GPU": gpu - base_gpu}]

    def _are_bundles_below_limit(
        self,
        bundles: Bundles,
        base_bundles: Bundles | None = None,
        max_added_cpus: float | None = None,
        max_added_gpus: float | None = None,
    ) -> bool:
        """Whether the trial may grow: its added CPUs or GPUs are below ``increase_by_times`` units."""
        times = self.increase_by_times
        if not max_added_cpus:
            max_added_cpus = self.increase_by.get("CPU", 0) * times if times > 0 else math.inf
        if not max_added_gpus:
            max_added_gpus = self.increase_by.get("GPU", 0) * times if times > 0 else math.inf
        cpu, gpu = _cpu_gpu(self._get_added_bundles(bundles, base_bundles) if base_bundles else bundles)
        return cpu < max_added_cpus or gpu < max_added_gpus

    # -- the policy ---------------------------------------------------------------------------------
    def _even_share(
        self,
        num_trials: int,
        base_bundles: Bundles,
        increase_by: dict[str, float],
        total_cpus: float,
        total_gpus: float,
    ) -> int:
        """How many units the first of ``num_trials`` trials gets when the node beyond their base
        resources is dealt out one unit per trial per round, until nothing is left or all are capped."""
        base_cpu, base_gpu = _cpu_gpu(base_bundles)
        spare_cpus, spare_gpus = total_cpus - base_cpu * num_trials, total_gpus - base_gpu * num_trials
        dealt: list[Bundles] = [[] for _ in range(num_trials)]
        capped: set[int] = set()
        share = 0
        turn = 0
        while (len(capped) < num_trials and spare_cpus >= increase_by.get("CPU", 0)
               and spare_gpus >= increase_by.get("GPU", 0)):  # fmt: skip
            index = turn % num_trials
            before = dealt[index]
            dealt[index] = self._modify_bundles_with_free_resources(
                before, increase_by, spare_cpus, spare_gpus, max_multiplier=1
            )
            cpu, gpu = _cpu_gpu(self._get_added_bundles(dealt[index], before))
            if not cpu and not gpu:
                capped.add(index)
            elif index == 0:
                share += 1
            spare_cpus, spare_gpus = spare_cpus - cpu, spare_gpus - gpu
            turn += 1
        return share

    def _get_new_added_bundles(
        self,
        trial: Any,
        all_trials: list,
        base_bundles: Bundles,
        increase_by: dict[str, float],
        total_available_cpus: float,
        total_available_gpus: float,
        used_cpus: float,
        used_gpus: float,
    ) -> Bundles:
        """The units ``trial`` should have beyond its base resources."""
        share = self._even_share(
            len(all_trials), base_bundles, increase_by, total_available_cpus, total_available_gpus
        )
        added = self._get_added_bundles(trial.placement_group_factory.bundles, base_bundles)
        return self._modify_bundles_with_free_resources(
            added, increase_by, total_available_cpus - used_cpus, total_available_gpus - used_gpus,
            max_increase_by_times=share,
        )  # fmt: skip


class DistributeResourcesToTopJob(DistributeResources):
    """Gives every free CPU/GPU unit to the best live trial still below its limit.

    Args:
        metric, mode: what "best" means; default: the ResourceChangingScheduler's base
            scheduler's (or TuneConfig's). A trial that has not reported ``metric`` ranks last.
        The rest: as ``DistributeResources``.
    Raises (when called):
        ValueError: no metric or mode anywhere.
    """

    def __init__(
        self,
        add_bundles: bool = False,
        increase_by: dict[str, float] | None = None,
        increase_by_times: int = -1,
        reserve_resources: dict[str, float] | None = None,
        metric: str | None = None,
        mode: str | None = None,
    ) -> None:
        super().__init__(add_bundles, increase_by, increase_by_times, reserve_resources)
        self.metric = metric
        self.mode = mode

    @property
    def _metric_op(self) -> float:
        if self.mode not in ("min", "max"):
            raise ValueError(f"DistributeResourcesToTopJob needs mode 'min' or 'max', got {self.mode!r}")
        return 1.0 if self.mode == "max" else -1.0

    def _get_new_added_bundles(
        self,
        trial: Any,
        all_trials: list,
        base_bundles: Bundles,
        increase_by: dict[str, float],
        total_available_cpus: float,
        total_available_gpus: float,
        used_cpus: float,
        used_gpus: float,
    ) -> Bundles:
        if self.metric is None:
            raise ValueError(
                "The metric parameter cannot be None. Set it in `DistributeResourcesToTopJob`, the base "
                "scheduler or `tune.TuneConfig()` (highest to lowest priority)."
            )
        op = self._metric_op
        free_cpus, free_gpus = total_available_cpus - used_cpus, total_available_gpus - used_gpus

        def rank(t: Any) -> float:
            value = t.last_result.get(self.metric)
            return -op * value if isinstance(value, (int, float)) else math.inf

        ranked = sorted(all_trials, key=rank)
        added = self._get_added_bundles(trial.placement_group_factory.bundles, base_bundles)
        best = next(
            (
                t
                for t in ranked
                if self._are_bundles_below_limit(t.placement_group_factory.bundles, base_bundles)
            ),
            ranked[0],
        )
        if trial.trial_id != best.trial_id and self._get_multiplier(increase_by, free_cpus, free_gpus) >= 0:
            return added  # not the best: it keeps what it has unless resources are short
        return self._modify_bundles_with_free_resources(added, increase_by, free_cpus, free_gpus)
