"""``stop={...}`` (Ray's dict form): stop a trial once any ``result[key] >= value``."""

from __future__ import annotations

from typing import Any

from greenroom.tune.experiment.trial import lookup
from greenroom.tune.stopper.stopper import Stopper

_MISSING = object()


def _flatten(criteria: dict, prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in criteria.items():
        if isinstance(value, dict):
            flat.update(_flatten(value, f"{prefix}{key}/"))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def _result_keys(result: dict, prefix: str = "") -> list[str]:
    keys: list[str] = []
    for key, value in result.items():
        keys += _result_keys(value, f"{prefix}{key}/") if isinstance(value, dict) else [f"{prefix}{key}"]
    return keys


class _DictStopper(Stopper):
    """Ray's ``stop={...}``: stop a trial once any ``result[key] >= value``."""

    def __init__(self, criteria: dict):
        self._criteria = _flatten(criteria)

    def __call__(self, trial_id: str, result: dict[str, Any]) -> bool:
        stop = False
        for key, threshold in self._criteria.items():
            value = lookup(result, key, _MISSING)
            if value is _MISSING:
                raise ValueError(
                    f"Stopping criterion {key!r} is not in the result of trial {trial_id!r}; "
                    f"it reported {sorted(_result_keys(result))}. Report {key!r} from the trainable, "
                    "or fix the key in RunConfig(stop=...) (nested keys as 'a/b')."
                )
            stop = stop or value >= threshold
        return stop

    def stop_all(self) -> bool:
        return False

    def __repr__(self) -> str:
        return f"dict_stopper({self._criteria!r})"


def dict_stopper(criteria: dict) -> Stopper:
    """A Stopper for Ray's dict form of ``stop``: stop when any ``result[key] >= value``.

    Keys may be nested as ``"a/b"`` (or as nested dicts).

    Raises:
        ValueError: when called with a result that lacks one of the keys.
    """
    if not isinstance(criteria, dict):
        raise TypeError(f"dict_stopper needs a dict of result key -> threshold, got {criteria!r}.")
    return _DictStopper(criteria)
