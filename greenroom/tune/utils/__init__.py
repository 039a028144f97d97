"""``tune.utils``: helpers for trainables."""

from greenroom.tune.utils.gpu import wait_for_gpu
from greenroom.tune.utils.serialization import diagnose_serialization

__all__ = ["diagnose_serialization", "wait_for_gpu"]
