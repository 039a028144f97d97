"""``PlacementGroupFactory`` at Ray's ``ray.tune.execution.placement_groups`` path.

It is defined in ``tune/resources.py``.
"""

from greenroom.tune.resources import PlacementGroupFactory, resources_to_factory

resource_dict_to_pg_factory = resources_to_factory  # Ray's name

__all__ = ["PlacementGroupFactory", "resource_dict_to_pg_factory"]
