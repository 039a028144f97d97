"""``tune.utils.diagnose_serialization``: why a trainable does not pickle."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from greenroom.util.check_serialize import inspect_serializability


def diagnose_serialization(trainable: Callable) -> Any:
    """True if ``trainable`` pickles (as Tune sends it to its trials); else the set of
    ``FailureTuple``s naming what it uses that does not, after printing the walk that found them."""
    ok, failures = inspect_serializability(trainable, name=getattr(trainable, "__name__", None))
    return True if ok else failures
