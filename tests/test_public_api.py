"""The public surface: __all__ pinned, Ray's import paths, README examples that run."""

from __future__ import annotations

import importlib
import importlib.util
import os
import pathlib
import re
import subprocess
import sys

import pytest

import greenroom

ROOT = pathlib.Path(__file__).resolve().parent.parent


def test_all_is_pinned():
    """greenroom.__all__ changes only on purpose."""
    assert sorted(greenroom.__all__) == sorted([
        "DynamicObjectRefGenerator", "ObjectRef", "ObjectRefGenerator", "actor", "get_actor", "kill", "method",
        "available_resources", "cancel", "cluster_resources", "exceptions", "get", "get_cpu_ids", "get_gpu_ids",
        "get_runtime_context", "init", "is_initialized", "nodes", "put", "remote", "timeline",
        "shutdown", "util", "wait",
    ])  # fmt: skip
    for name in greenroom.__all__:
        assert getattr(greenroom, name) is not None


PINNED_ALL = {
    "greenroom.tune": [
        "CLIReporter", "Callback", "Checkpoint", "CheckpointConfig", "Experiment", "ExperimentAnalysis", "FailureConfig",
        "JupyterNotebookReporter", "PlacementGroupFactory", "ProgressReporter", "Result", "ResultGrid",
        "RunConfig", "Stopper", "Trainable", "TuneConfig", "TuneContext", "TuneError", "Tuner", "choice",
        "create_scheduler", "create_searcher", "get_checkpoint", "get_context", "grid_search", "logger",
        "lograndint", "loguniform", "qlograndint", "qloguniform", "qrandint", "qrandn", "quniform", "randint",
        "randn", "register_trainable", "report", "result", "run", "run_experiments", "sample_from",
        "schedulers", "search", "stopper", "suggest", "uniform", "utils", "with_parameters", "with_resources",
    ],
    "greenroom.exceptions": [
        "ActorAlreadyExistsError", "ActorDiedError", "ActorUnavailableError", "ActorUnschedulableError",
        "AsyncioActorExit", "GetTimeoutError", "NodeDiedError", "ObjectFetchTimedOutError", "ObjectFreedError",
        "ObjectLostError", "ObjectStoreFullError", "OutOfMemoryError", "OwnerDiedError", "PendingCallsLimitExceeded",
        "RayActorError", "RayError", "RaySystemError", "RayTaskError", "ResourceDeadlockError",
        "TaskCancelledError", "TaskUnschedulableError", "WorkerCrashedError",
    ],
    "greenroom.train": [
        "Backend", "BackendConfig", "Checkpoint", "CheckpointConfig", "DataParallelTrainer", "FailureConfig",
        "Result", "RunConfig", "ScalingConfig", "TrainContext", "TrainingFailedError", "UserCallback",
        "get_checkpoint", "get_context", "get_dataset_shard", "report",
    ],
    "greenroom.train.torch": [
        "TorchConfig", "TorchTrainer", "enable_reproducibility", "get_device", "get_devices",
        "prepare_data_loader", "prepare_model",
    ],
    "greenroom.air": ["Checkpoint", "CheckpointConfig", "FailureConfig", "Result", "RunConfig", "ScalingConfig", "session"],
    # Ray's ray.util.__all__ names greenroom has (ActorPool, get_node_ip_address, list_named_actors,
    # register_serializer, deregister_serializer, inspect_serializability),
    # as_completed and map_unordered (documented at ray.util), and PlacementGroup.
    "greenroom.util": [
        "ActorPool", "PlacementGroup", "as_completed", "deregister_serializer", "get_current_placement_group",
        "get_node_ip_address", "get_placement_group", "inspect_serializability", "list_named_actors",
        "map_unordered", "placement_group", "placement_group_table", "register_serializer",
        "remove_placement_group",
    ],
    # Ray's ray.util.state functions greenroom has (no jobs, logs, runtime envs or cluster events).
    "greenroom.util.state": [
        "get_actor", "get_node", "get_placement_group", "get_task", "get_worker", "list_actors", "list_nodes",
        "list_objects", "list_placement_groups", "list_tasks", "list_workers", "summarize_actors", "summarize_tasks",
    ],
    "greenroom.util.multiprocessing": [
        "AsyncResult", "IMapIterator", "IMapUnorderedIterator", "JoinableQueue", "Pool", "TimeoutError",
    ],
    "greenroom.dag": [
        "ClassMethodNode", "ClassNode", "DAGInputData", "DAGNode", "FunctionNode", "InputAttributeNode",
        "InputNode", "MultiOutputNode", "PARENT_CLASS_NODE_KEY", "PREV_CLASS_METHOD_CALL_KEY",
    ],
}  # fmt: skip


@pytest.mark.parametrize("module", sorted(PINNED_ALL))
def test_submodule_all_is_pinned(module):
    """greenroom.tune, .exceptions, .util, .util.state, .util.multiprocessing and .dag's __all__ change only on purpose."""
    assert sorted(importlib.import_module(module).__all__) == PINNED_ALL[module]


@pytest.mark.parametrize("module", ["greenroom", *sorted(PINNED_ALL)])
def test_every_name_in_all_imports(module):
    """``from module import *`` works and binds every name of its __all__."""
    namespace: dict = {}
    exec(f"from {module} import *", namespace)
    missing = sorted(set(importlib.import_module(module).__all__) - set(namespace))
    assert not missing, f"in {module}.__all__ but not importable from it: {missing}"


def test_every_exception_class_is_exported():
    """Each exception class greenroom.exceptions defines is in its __all__."""
    module = importlib.import_module("greenroom.exceptions")
    defined = sorted(
        name
        for name, obj in vars(module).items()
        if isinstance(obj, type) and issubclass(obj, BaseException) and obj.__module__ == module.__name__
    )
    assert hasattr(module, "__all__"), "greenroom.exceptions has no __all__"
    missing = sorted(set(defined) - set(module.__all__))
    assert not missing, f"exception classes greenroom.exceptions defines but leaves out of __all__: {missing}"


def test_ray_import_paths():
    """Ray's module paths exist under greenroom."""
    from greenroom.exceptions import GetTimeoutError, RayTaskError  # noqa: F401
    from greenroom.util import placement_group, remove_placement_group  # noqa: F401
    from greenroom.util.placement_group import get_placement_group, placement_group_table  # noqa: F401
    from greenroom.util.scheduling_strategies import PlacementGroupSchedulingStrategy  # noqa: F401
    from greenroom.util import ActorPool, as_completed, get_node_ip_address, list_named_actors, map_unordered  # noqa: F401
    from greenroom.util.actor_pool import ActorPool as PoolAtItsPath
    from greenroom.util.helpers import as_completed as at_its_path  # noqa: F401
    from greenroom.util.queue import Empty, Full, Queue  # noqa: F401
    from greenroom.util.multiprocessing import Pool, TimeoutError as PoolTimeout  # noqa: F401
    from greenroom.util.state import list_actors, list_tasks, summarize_tasks  # noqa: F401
    from greenroom.util.state.common import ActorState, TaskState  # noqa: F401
    from greenroom.util.state.exception import RayStateApiException  # noqa: F401
    from greenroom.util.multiprocessing.pool import Pool as PoolModule
    from greenroom.dag import InputNode, MultiOutputNode  # noqa: F401
    from greenroom.dag.input_node import InputNode as InputAtItsPath
    from greenroom.dag.output_node import MultiOutputNode as OutputAtItsPath
    from greenroom.dag.class_node import ClassMethodNode, ClassNode  # noqa: F401
    from greenroom.dag.function_node import FunctionNode  # noqa: F401
    import queue
    import multiprocessing

    assert issubclass(GetTimeoutError, TimeoutError)
    assert PoolAtItsPath is ActorPool and PoolModule is Pool
    assert InputAtItsPath is InputNode and OutputAtItsPath is MultiOutputNode
    assert issubclass(Empty, queue.Empty) and issubclass(Full, queue.Full)
    assert PoolTimeout is multiprocessing.TimeoutError
    assert greenroom.dag.InputNode is InputNode  # `import greenroom` is enough for bind()


README_BLOCKS = re.findall(r"```python\n(.*?)```", (ROOT / "README.md").read_text(), re.S)


@pytest.mark.parametrize("code", README_BLOCKS, ids=[f"block{i}" for i in range(len(README_BLOCKS))])
def test_readme_example_runs(code, tmp_path):
    """Every Python example in the README runs as written (one that imports torch, where torch is installed)."""
    if re.search(r"^import torch$", code, re.M) and importlib.util.find_spec("torch") is None:
        pytest.skip("this example needs torch: pip install 'greenroom[torch]'")
    script = tmp_path / "example.py"
    script.write_text(code)
    result = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr[-2000:]


def test_demo_runs():
    """The Quickstart demo runs."""
    result = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "demo.py")], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "done" in result.stdout


EXAMPLES = sorted((ROOT / "examples" / "tune").glob("*.py"))


@pytest.mark.parametrize("script", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_tune_examples_run(script, tmp_path):
    """Each seed 000 snippet in examples/tune runs as a script."""
    env = {**os.environ, "GREENROOM_RESULTS_DIR": str(tmp_path)}
    result = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=120, cwd=tmp_path, env=env
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "Traceback" not in result.stderr


def test_train_paths_and_shared_objects():
    """Ray Train's paths exist, and the configs and Checkpoint are tune's own objects (Ray 2.7-2.40)."""
    from greenroom import air, train, tune
    from greenroom.air.config import RunConfig as AirRunConfig
    from greenroom.train.backend import BackendConfig  # noqa: F401
    from greenroom.train.base_trainer import TrainingFailedError
    from greenroom.train.context import TrainContext  # noqa: F401
    from greenroom.train.data_parallel_trainer import DataParallelTrainer
    from greenroom.train.torch import TorchTrainer
    from greenroom.tune.integration.ray_train import TuneReportCallback

    assert issubclass(TorchTrainer, DataParallelTrainer) and TrainingFailedError is train.TrainingFailedError
    assert issubclass(TuneReportCallback, train.UserCallback)
    for name in ("RunConfig", "CheckpointConfig", "FailureConfig", "Checkpoint"):
        assert getattr(train, name) is getattr(tune, name) is getattr(air, name), name
    assert AirRunConfig is train.RunConfig and air.ScalingConfig is train.ScalingConfig
    assert air.session.report is not None and air.session.get_world_rank is not None


def test_tune_public_names():
    """Ray Tune's names exist under greenroom.tune at Ray's paths."""
    from greenroom import tune
    from greenroom.tune.schedulers import ASHAScheduler, PopulationBasedTraining  # noqa: F401
    from greenroom.tune.search import ConcurrencyLimiter, Searcher  # noqa: F401
    from greenroom.tune.suggest import ConcurrencyLimiter as Old

    assert Old is ConcurrencyLimiter
    for name in ("run", "Tuner", "TuneConfig", "RunConfig", "report", "Checkpoint", "Trainable",
                 "PlacementGroupFactory", "ExperimentAnalysis", "grid_search", "uniform"):  # fmt: skip
        assert hasattr(tune, name), name
