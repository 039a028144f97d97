"""Ray's ``ray.train.base_trainer`` path: ``TrainingFailedError`` (defined in ``train/error.py``)."""

from greenroom.train.error import TrainingFailedError

__all__ = ["TrainingFailedError"]
