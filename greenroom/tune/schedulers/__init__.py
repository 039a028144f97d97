"""Trial schedulers, at Ray's ``ray.tune.schedulers`` paths.

A scheduler is a pure decision core fed by the trial runner; see
``trial_scheduler.py`` for the events, the decisions and the controller protocol.
"""

from __future__ import annotations

import inspect

from greenroom.tune.schedulers.async_hyperband import ASHAScheduler, AsyncHyperBandScheduler
from greenroom.tune.schedulers.hb_bohb import HyperBandForBOHB
from greenroom.tune.schedulers.hyperband import HyperBandScheduler
from greenroom.tune.schedulers.median_stopping_rule import MedianStoppingRule
from greenroom.tune.schedulers.pbt import PopulationBasedTraining
from greenroom.tune.schedulers.resource_changing_scheduler import (
    DistributeResources,
    DistributeResourcesToTopJob,
    ResourceChangingScheduler,
)
from greenroom.tune.schedulers.trial_scheduler import FIFOScheduler, TrialController, TrialScheduler

_BY_NAME: dict[str, type[TrialScheduler]] = {
    "fifo": FIFOScheduler,
    "async_hyperband": AsyncHyperBandScheduler,
    "asynchyperband": AsyncHyperBandScheduler,
    "median_stopping_rule": MedianStoppingRule,
    "medianstopping": MedianStoppingRule,
    "hyperband": HyperBandScheduler,
    "hb_bohb": HyperBandForBOHB,
    "pbt": PopulationBasedTraining,
    "resource_changing": ResourceChangingScheduler,
}


def create_scheduler(scheduler: str, **kwargs) -> TrialScheduler:
    """A scheduler by Ray's short name ("fifo", "asynchyperband", "hyperband", "hb_bohb", "pbt",
    "resource_changing", ...). As in Ray, keyword arguments the scheduler does not take are dropped.

    Raises:
        ValueError: for a name greenroom does not know, listing the known ones.
    """
    try:
        cls = _BY_NAME[scheduler.lower()]
    except KeyError:
        raise ValueError(
            f"Unknown scheduler {scheduler!r}; greenroom knows {sorted(_BY_NAME)}."
        ) from None
    accepted = inspect.signature(cls.__init__).parameters
    return cls(**{k: v for k, v in kwargs.items() if k in accepted})


__all__ = [
    "ASHAScheduler",
    "AsyncHyperBandScheduler",
    "DistributeResources",
    "DistributeResourcesToTopJob",
    "FIFOScheduler",
    "HyperBandForBOHB",
    "HyperBandScheduler",
    "MedianStoppingRule",
    "PopulationBasedTraining",
    "ResourceChangingScheduler",
    "TrialController",
    "TrialScheduler",
    "create_scheduler",
]
