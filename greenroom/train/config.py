"""``ScalingConfig``: how many workers a trainer runs and what each holds, as Ray Train's.

Pure: the bundles a trainer reserves, the ``PlacementGroupFactory`` a Tune trial
of the trainer reserves, and whether a node (its totals, as
``ray.cluster_resources()`` gives them) can ever hold them. Amounts are
compared in Tune's fixed-point units, so 0.5 + 0.5 GPU is exactly 1.

Bundles: one per worker, in rank order, after the coordinator's bundle:

- ``Tuner(trainer)`` (Ray Train V1): the trial's actor is the coordinator; its
  bundle is ``trainer_resources``, 1 CPU by default, as Ray's.
- ``fit()`` (Ray Train V2): the coordinator is the process calling ``fit()``,
  which already has what it holds; the group reserves ``trainer_resources``
  beside the workers only if they are given.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from greenroom.tune.execution.capacity import UNIT, to_units
from greenroom.tune.resources import PlacementGroupFactory
from greenroom.tune.search.sample import Domain
from greenroom.util.accelerators import ACCELERATOR_TYPE_PREFIX, ACCELERATOR_TYPE_SLIVER

_STRATEGIES = ("PACK", "SPREAD", "STRICT_PACK", "STRICT_SPREAD")
_DEFAULT_TRAINER = {"CPU": 1.0}


@dataclass
class ScalingConfig:
    """How a trainer scales: ``num_workers`` workers, each holding ``resources_per_worker``.

    Args:
        num_workers: data-parallel workers (ranks 0 .. num_workers-1).
        use_gpu: each worker holds 1 GPU by default, and TorchTrainer uses NCCL.
        resources_per_worker: what each worker holds, e.g. ``{"CPU": 2, "GPU": 0.5}``;
            default ``{"CPU": 1}`` without GPUs, ``{"GPU": 1}`` with them (as Ray).
        trainer_resources: what the coordinator holds (see the module docstring).
        placement_strategy: the placement group's strategy, ``"PACK"`` by default.
    Raises:
        ValueError, TypeError: malformed values, at construction.
    """

    num_workers: int = 1
    use_gpu: bool = False
    resources_per_worker: dict | None = None
    trainer_resources: dict | None = None
    placement_strategy: str = "PACK"
    accelerator_type: str | None = None

    def __post_init__(self) -> None:
        if self.is_search_space:
            return  # Tuner(trainer) refuses it with its own message
        if (
            isinstance(self.num_workers, bool)
            or not isinstance(self.num_workers, int)
            or self.num_workers < 1
        ):
            raise ValueError(f"ScalingConfig(num_workers={self.num_workers!r}): expected an integer >= 1")
        if self.placement_strategy not in _STRATEGIES:
            raise ValueError(
                f"ScalingConfig(placement_strategy={self.placement_strategy!r}): expected one of {_STRATEGIES}"
            )
        if self.accelerator_type is not None and (not isinstance(self.accelerator_type, str)
                                                  or not self.accelerator_type):  # fmt: skip
            raise TypeError(f"ScalingConfig(accelerator_type={self.accelerator_type!r}): expected a GPU model "
                            "such as 'H100' (greenroom.util.accelerators names them)")  # fmt: skip
        for name in ("resources_per_worker", "trainer_resources"):
            value = getattr(self, name)
            if value is not None and not isinstance(value, Mapping):
                raise TypeError(f"ScalingConfig({name}={value!r}): expected a dict like {{'CPU': 1}}")
            for key in value or {}:
                if key.lower() in ("cpu", "gpu") and key not in ("CPU", "GPU"):
                    raise ValueError(f"ScalingConfig({name}={value!r}): resource names are 'CPU' and 'GPU'")
        gpu = (self.resources_per_worker or {}).get("GPU", None)
        if self.use_gpu and gpu == 0:
            raise ValueError(
                "ScalingConfig(use_gpu=True) but resources_per_worker has GPU=0. Either set use_gpu=False "
                "or request a positive number of GPUs in resources_per_worker."
            )
        if not self.use_gpu and gpu:
            raise ValueError(
                f"ScalingConfig(use_gpu=False) but resources_per_worker asks for GPU={gpu}. Either set "
                "use_gpu=True or remove GPU from resources_per_worker."
            )
        if not self.worker_bundle:
            raise ValueError(
                f"ScalingConfig(resources_per_worker={self.resources_per_worker!r}) reserves nothing per worker; "
                "ask for some CPU or GPU, e.g. {'CPU': 1}"
            )

    @property
    def is_search_space(self) -> bool:
        """Whether a field is a Tune search domain (``tune.choice``, ``tune.grid_search``)."""
        return any(
            isinstance(v, Domain) or (isinstance(v, dict) and "grid_search" in v) for v in vars(self).values()
        )

    # -- Ray's properties -----------------------------------------------------------------------
    @property
    def worker_bundle(self) -> dict[str, float]:
        """What each worker holds (Ray's ``_resources_per_worker_not_none``)."""
        if self.resources_per_worker is None:
            bundle = {"GPU": 1.0} if self.use_gpu else {"CPU": 1.0}
        else:
            bundle = {k: float(v) for k, v in self.resources_per_worker.items() if v}
            if self.use_gpu:
                bundle.setdefault("GPU", 1.0)
        if self.accelerator_type:  # as Ray's: a sliver of the node's accelerator_type:<model>
            bundle[ACCELERATOR_TYPE_PREFIX + self.accelerator_type] = ACCELERATOR_TYPE_SLIVER
        return bundle

    _resources_per_worker_not_none = worker_bundle

    @property
    def _trainer_resources_not_none(self) -> dict[str, float]:
        """The coordinator's bundle when a Tune trial is the coordinator (Ray V1's default: 1 CPU)."""
        if self.trainer_resources is None:
            return dict(_DEFAULT_TRAINER)
        return {k: float(v) for k, v in self.trainer_resources.items() if v}

    @property
    def num_cpus_per_worker(self) -> float:
        return self.worker_bundle.get("CPU", 0.0)

    @property
    def num_gpus_per_worker(self) -> float:
        return self.worker_bundle.get("GPU", 0.0)

    @property
    def additional_resources_per_worker(self) -> dict[str, float]:
        return {k: v for k, v in self.worker_bundle.items() if k not in ("CPU", "GPU")}

    @property
    def total_resources(self) -> dict[str, float]:
        """The trainer bundle (as in a Tune trial) plus every worker's."""
        return _sum([self._trainer_resources_not_none, *[self.worker_bundle] * self.num_workers])

    def as_placement_group_factory(self) -> PlacementGroupFactory:
        """What one Tune trial of the trainer reserves at once: the coordinator's bundle
        (may be empty: the trial's actor then holds nothing), then one per worker."""
        return PlacementGroupFactory(
            [self._trainer_resources_not_none, *[self.worker_bundle] * self.num_workers],
            strategy=self.placement_strategy,
        )

    def fit_bundles(self) -> list[dict[str, float]]:
        """The bundles ``fit()`` reserves: ``trainer_resources`` if given (not empty), then the workers'."""
        head = [self._trainer_resources_not_none] if self.trainer_resources else []
        return [b for b in head if b] + [self.worker_bundle] * self.num_workers


def _sum(bundles: list[Mapping[str, float]]) -> dict[str, float]:
    total: dict[str, float] = {}
    for bundle in bundles:
        for key, value in bundle.items():
            total[key] = total.get(key, 0.0) + value
    return {k: v for k, v in total.items() if v}


def _fmt(amounts: Mapping[str, float]) -> str:
    return "{" + ", ".join(f"{k!r}: {v:g}" for k, v in sorted(amounts.items())) + "}"


def placement_problem(
    scaling: ScalingConfig,
    bundles: list[Mapping[str, float]],
    total: Mapping[str, float],
    held: Mapping[str, float] | None = None,
    holder: str = "",
) -> str | None:
    """Why ``bundles`` can never be placed on a node with ``total`` of which ``held`` is
    held for good (by the Tune trial that runs ``fit()``); None if they can.

    The message names what was asked, what exists, and how many workers would fit.
    """
    need = to_units(_sum(list(bundles)))
    held_units = to_units(held or {})
    have = {k: n - held_units.get(k, 0) for k, n in to_units(total).items()}
    short = {k: n for k, n in need.items() if n > have.get(k, 0)}
    if not short:
        return None
    asked = f"ScalingConfig(num_workers={scaling.num_workers}, use_gpu={scaling.use_gpu})"
    per_worker = to_units(scaling.worker_bundle)
    trainer = {k: n for k, n in need.items()}
    for key, n in per_worker.items():
        trainer[key] = trainer.get(key, 0) - n * scaling.num_workers
    fits = min((max(have.get(k, 0) - trainer.get(k, 0), 0) // n for k, n in per_worker.items()), default=0)
    where = f"this node has {_fmt({k: v for k, v in total.items() if k in need})} in total"
    if held:
        where += f", and {holder or 'the caller'} holds {_fmt(dict(held))} of it for as long as it runs"
    advice = (
        f"Lower num_workers to {fits}" if fits >= 1 else "Lower resources_per_worker"
    ) + ", or start greenroom with more (init(num_cpus=..., num_gpus=...))."
    return (
        f"{asked} asks for {_fmt(scaling.worker_bundle)} per worker, "
        f"{_fmt({k: n / UNIT for k, n in need.items()})} "
        f"in all, but {where}, so the workers can never be placed (short of "
        f"{_fmt({k: (n - have.get(k, 0)) / UNIT for k, n in short.items()})}). {advice}"
    )
