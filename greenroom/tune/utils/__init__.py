"""``tune.utils``: helpers for trainables."""

from greenroom.tune.utils.gpu import wait_for_gpu

__all__ = ["wait_for_gpu"]
