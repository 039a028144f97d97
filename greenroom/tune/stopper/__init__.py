"""Stoppers, at Ray's ``ray.tune.stopper`` paths: pure predicates over results.

The trial runner calls ``stopper(trial_id, result)`` on every result (True:
stop that trial) and ``stopper.stop_all()`` after it (True: stop the whole
experiment). ``RunConfig(stop=...)`` may also be a dict (see ``dict_stopper``)
or a function ``(trial_id, result) -> bool`` (see ``FunctionStopper``).
Each stopper has its own module, as in Ray (``tune.stopper.timeout``, ...).
"""

from greenroom.tune.stopper._dict_stopper import dict_stopper
from greenroom.tune.stopper.experiment_plateau import ExperimentPlateauStopper
from greenroom.tune.stopper.function_stopper import FunctionStopper
from greenroom.tune.stopper.maximum_iteration import MaximumIterationStopper
from greenroom.tune.stopper.noop import NoopStopper
from greenroom.tune.stopper.stopper import CombinedStopper, Stopper
from greenroom.tune.stopper.timeout import TimeoutStopper
from greenroom.tune.stopper.trial_plateau import TrialPlateauStopper

__all__ = [
    "CombinedStopper",
    "ExperimentPlateauStopper",
    "FunctionStopper",
    "MaximumIterationStopper",
    "NoopStopper",
    "Stopper",
    "TimeoutStopper",
    "TrialPlateauStopper",
    "dict_stopper",
]
