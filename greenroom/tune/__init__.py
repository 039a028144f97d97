"""greenroom.tune: Ray Tune's API. Trials are greenroom actors holding ``resources_per_trial``.

``from greenroom import tune`` runs Ray Tune programs unchanged.
"""

from greenroom.tune import schedulers, search, stopper, suggest, utils
from greenroom.tune.analysis import ExperimentAnalysis, Result, ResultGrid
from greenroom.tune.callback import Callback
from greenroom.tune.checkpoint import Checkpoint
from greenroom.tune.error import TuneError
from greenroom.tune.progress import CLIReporter, JupyterNotebookReporter, ProgressReporter
from greenroom.tune.resources import PlacementGroupFactory
from greenroom.tune.search.sample import (
    choice,
    grid_search,
    lograndint,
    loguniform,
    qlograndint,
    qloguniform,
    qrandint,
    qrandn,
    quniform,
    randint,
    randn,
    sample_from,
    uniform,
)
from greenroom.tune.stopper import Stopper
from greenroom.tune.trainable.session import get_checkpoint, get_context, report
from greenroom.tune.trainable.trainable import Trainable
from greenroom.tune.tune import run, with_parameters, with_resources
from greenroom.tune.tuner import CheckpointConfig, FailureConfig, RunConfig, TuneConfig, Tuner

__all__ = [
    "CLIReporter", "Callback", "Checkpoint", "CheckpointConfig", "ExperimentAnalysis",
    "FailureConfig", "JupyterNotebookReporter", "PlacementGroupFactory", "ProgressReporter",
    "Result", "ResultGrid", "RunConfig", "Stopper", "Trainable", "TuneConfig", "TuneError",
    "Tuner", "choice", "get_checkpoint", "get_context", "grid_search", "lograndint",
    "loguniform", "qlograndint", "qloguniform", "qrandint", "qrandn", "quniform", "randint",
    "randn", "report", "run", "sample_from", "schedulers", "search", "stopper", "suggest", "uniform",
    "utils", "with_parameters", "with_resources",
]  # fmt: skip
