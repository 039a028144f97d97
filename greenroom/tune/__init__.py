"""greenroom.tune: Ray Tune's API. Trials are greenroom actors holding ``resources_per_trial``.

``from greenroom import tune`` runs Ray Tune programs unchanged.
"""

from greenroom.tune import logger, result, schedulers, search, stopper, suggest, utils
from greenroom.tune.analysis import ExperimentAnalysis, Result, ResultGrid
from greenroom.tune.callback import Callback
from greenroom.tune.checkpoint import Checkpoint
from greenroom.tune.context import TuneContext
from greenroom.tune.error import TuneError
from greenroom.tune.experiment.experiment import Experiment
from greenroom.tune.progress import CLIReporter, JupyterNotebookReporter, ProgressReporter
from greenroom.tune.registry import register_trainable
from greenroom.tune.resources import PlacementGroupFactory
from greenroom.tune.schedulers import create_scheduler
from greenroom.tune.search import create_searcher
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
from greenroom.tune.trainable.util import with_parameters, with_resources
from greenroom.tune.tune import run, run_experiments
from greenroom.tune.config import CheckpointConfig, FailureConfig, RunConfig, TuneConfig
from greenroom.tune.tuner import Tuner

__all__ = [
    "CLIReporter", "Callback", "Checkpoint", "CheckpointConfig", "Experiment", "ExperimentAnalysis",
    "FailureConfig", "JupyterNotebookReporter", "PlacementGroupFactory", "ProgressReporter",
    "Result", "ResultGrid", "RunConfig", "Stopper", "Trainable", "TuneConfig", "TuneContext", "TuneError",
    "Tuner", "choice", "create_scheduler", "create_searcher", "get_checkpoint", "get_context",
    "grid_search", "logger", "lograndint", "loguniform", "qlograndint", "qloguniform", "qrandint", "qrandn",
    "quniform", "randint", "randn", "register_trainable", "report", "result", "run", "run_experiments",
    "sample_from", "schedulers", "search", "stopper", "suggest", "uniform", "utils", "with_parameters",
    "with_resources",
]  # fmt: skip
