"""``ray.air.config``'s path: the run configs, which are ``greenroom.train``'s (and ``tune``'s)."""

from greenroom.train import CheckpointConfig, FailureConfig, RunConfig, ScalingConfig

__all__ = ["CheckpointConfig", "FailureConfig", "RunConfig", "ScalingConfig"]
