"""``greenroom.air``: Ray AIR's older spellings (Ray 2.0-2.6), the same objects as ``train``'s.

``from ray.air import session; session.report(...)``, ``ray.air.ScalingConfig``,
``ray.air.RunConfig``, ``ray.air.Checkpoint`` and friends run unchanged.
"""

from greenroom.air import session
from greenroom.air.config import CheckpointConfig, FailureConfig, RunConfig, ScalingConfig
from greenroom.train import Checkpoint, Result

__all__ = [
    "Checkpoint",
    "CheckpointConfig",
    "FailureConfig",
    "Result",
    "RunConfig",
    "ScalingConfig",
    "session",
]
