"""What a trial asks for: ``resources_per_trial`` dicts and ``PlacementGroupFactory``."""

from __future__ import annotations

from typing import Any

from greenroom.util.placement_group import validate_bundles

_DICT_KEYS = {"cpu": "CPU", "gpu": "GPU", "memory": "memory"}


class PlacementGroupFactory:
    """Bundles for one trial: the first is the trial's own, the others are reserved
    with it (atomically) for the remote tasks and actors the trainable starts.

    As in Ray, an empty first bundle (``[{}, {"CPU": 2}]``) means the trainable itself
    holds nothing: it is dropped from ``bundles`` (``head_bundle_is_empty``), and the
    trial's actor runs in the group's first bundle without taking from it.
    """

    def __init__(self, bundles: list[dict[str, float]], strategy: str = "PACK", *args: Any, **kwargs: Any) -> None:
        if args or kwargs:
            raise TypeError(f"PlacementGroupFactory got unexpected arguments {args or ''}{kwargs or ''}")
        self.head_bundle_is_empty = bool(bundles) and isinstance(bundles[0], dict) and not any(bundles[0].values())
        if self.head_bundle_is_empty:
            bundles = list(bundles[1:])
            if not bundles:
                raise ValueError("PlacementGroupFactory([{}]) reserves nothing: give the empty head bundle others")
        validate_bundles(bundles, strategy)
        self.bundles = [dict(b) for b in bundles]
        self.strategy = strategy

    @property
    def head_bundle(self) -> dict[str, float]:
        return {} if self.head_bundle_is_empty else self.bundles[0]

    @property
    def head_cpus(self) -> float:
        """The CPUs of the trial's own bundle."""
        return self.bundles[0].get("CPU", 0)

    @property
    def required_resources(self) -> dict[str, float]:
        """The sum of all bundles."""
        total: dict[str, float] = {}
        for b in self.bundles:
            for k, v in b.items():
                total[k] = total.get(k, 0) + v
        return total

    @property
    def has_extra_bundles(self) -> bool:
        return self.head_bundle_is_empty or len(self.bundles) > 1

    def _key(self) -> tuple:
        # Zero amounts ask for nothing: {"CPU": 1, "GPU": 0} is {"CPU": 1}.
        return [{k: v for k, v in b.items() if v} for b in self.bundles], self.strategy, self.head_bundle_is_empty

    def __eq__(self, other: object) -> bool:
        return isinstance(other, PlacementGroupFactory) and other._key() == self._key()

    def __repr__(self) -> str:
        bundles = [{}, *self.bundles] if self.head_bundle_is_empty else self.bundles
        return f"PlacementGroupFactory({bundles!r}, strategy={self.strategy!r})"


def resources_to_factory(resources: Any) -> PlacementGroupFactory:
    """``None`` (1 CPU), a ``{"cpu": 2, "gpu": 1, "memory": ..., "custom": 1}`` dict, or a factory."""
    if resources is None:
        return PlacementGroupFactory([{"CPU": 1}])
    if isinstance(resources, PlacementGroupFactory):
        return resources
    if not isinstance(resources, dict):
        raise TypeError(
            f"resources_per_trial={resources!r}: expected a dict like {{'cpu': 2, 'gpu': 1}} "
            "or a tune.PlacementGroupFactory"
        )
    bundle: dict[str, float] = {}
    for key, value in resources.items():
        if key in ("extra_cpu", "extra_gpu", "extra_memory", "extra_custom_resources"):
            raise ValueError(f"resources_per_trial key {key!r} is gone from Ray; use a PlacementGroupFactory")
        if key == "custom_resources":
            bundle.update(value)
        else:
            bundle[_DICT_KEYS.get(key, key)] = value
    # As in Ray, a dict asks for exactly what it names: {"gpu": 1} takes no CPU.
    bundle = {k: v for k, v in bundle.items() if v != 0}
    if not bundle:
        raise ValueError(
            f"resources_per_trial={resources!r} asks for nothing, so every trial would run at once; "
            "ask for some CPU or GPU, e.g. {'cpu': 1}"
        )
    return PlacementGroupFactory([bundle])
