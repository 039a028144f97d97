"""Resource totals, accounting, limits and option checks, through the public API.

Tasks that must stay running while the test looks at the accounting wait for a
release file the test creates; the test waits for their "started" file.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

import greenroom
from greenroom.exceptions import TaskUnschedulableError
from helpers import wait_for

DEADLINE_S = 20.0


@pytest.fixture
def shut_down_after():
    """Shut greenroom down after a test that calls init() itself."""
    yield
    greenroom.shutdown()


@greenroom.remote(num_cpus=0)
def hold(started: str, release: str):
    Path(started).touch()
    wait_for(lambda: os.path.exists(release), f"release file {release}")
    return greenroom.get_runtime_context().get_assigned_resources()


@greenroom.remote(num_cpus=0)
def at_barrier(directory: str, name: str, parties: int):
    Path(directory, name).touch()
    wait_for(lambda: len(os.listdir(directory)) >= parties, f"{parties} tasks at barrier")
    return greenroom.get_runtime_context().get_assigned_resources()


@greenroom.remote
def timed(seconds: float):
    start = time.monotonic()
    time.sleep(seconds)  # workload: gives the tasks time to overlap, not synchronisation
    return start, time.monotonic()


@greenroom.remote
def assigned():
    return greenroom.get_runtime_context().get_assigned_resources()


def max_overlap(spans: list[tuple[float, float]]) -> int:
    """The most spans open at one instant (an end at t closes before a start at t)."""
    events = sorted([(end, -1) for _, end in spans] + [(start, 1) for start, _ in spans])
    most = now = 0
    for _, delta in events:
        now += delta
        most = max(most, now)
    return most


def test_totals_from_init_arguments(shut_down_after):
    """cluster_resources() reports num_cpus, num_gpus, _memory and custom resources; all free when idle."""
    greenroom.init(num_cpus=3, num_gpus=2, resources={"foo": 2, "bar": 0.5}, _memory=10**9)
    expected = {"CPU": 3.0, "GPU": 2.0, "memory": 1e9, "foo": 2.0, "bar": 0.5}
    total = greenroom.cluster_resources()
    assert {k: total.get(k) for k in expected} == expected
    available = greenroom.available_resources()
    assert {k: available.get(k) for k in expected} == expected


def test_no_gpu_key_without_gpus(gr_cpu4):
    """With num_gpus=0, neither cluster_resources() nor available_resources() lists GPU."""
    assert greenroom.cluster_resources()["CPU"] == 4.0
    assert "GPU" not in greenroom.cluster_resources()
    assert "GPU" not in greenroom.available_resources()


def test_available_drops_while_a_task_runs(shut_down_after, tmp_path):
    """A running task's CPU, GPU, memory and custom resources leave available_resources() until it ends."""
    greenroom.init(num_cpus=2, num_gpus=4, resources={"foo": 2}, _memory=10**9)
    started, release = str(tmp_path / "started"), str(tmp_path / "release")
    ref = hold.options(num_cpus=1, num_gpus=1, memory=10**8, resources={"foo": 1}).remote(started, release)
    wait_for(lambda: os.path.exists(started), "the task to start")
    available = greenroom.available_resources()
    assert available["CPU"] == 1.0
    assert available["GPU"] == 3.0
    assert available["memory"] == 9e8
    assert available["foo"] == 1.0
    Path(release).touch()
    got = greenroom.get(ref, timeout=DEADLINE_S)
    assert got == {"CPU": 1.0, "GPU": 1.0, "memory": 1e8, "foo": 1.0}
    # A GPU task's worker exits after it (max_calls=1); what it held comes back once its process is gone.
    everything = {"CPU": 2.0, "GPU": 4.0, "memory": 1e9, "foo": 2.0}
    wait_for(lambda: {k: greenroom.available_resources().get(k) for k in everything} == everything,
             "the GPU task's resources to come back")  # fmt: skip


def test_exhausted_resource_is_omitted_from_available(shut_down_after, tmp_path):
    """As in Ray, a resource with nothing left is absent from available_resources()."""
    greenroom.init(num_cpus=2, num_gpus=0, resources={"foo": 1})
    started, release = str(tmp_path / "started"), str(tmp_path / "release")
    ref = hold.options(resources={"foo": 1}).remote(started, release)
    wait_for(lambda: os.path.exists(started), "the task to start")
    try:
        assert "foo" not in greenroom.available_resources()
        assert greenroom.cluster_resources()["foo"] == 1.0
    finally:
        Path(release).touch()
    greenroom.get(ref, timeout=DEADLINE_S)
    assert greenroom.available_resources()["foo"] == 1.0


def test_fractional_cpus_add_up_exactly(shut_down_after, tmp_path):
    """0.3 + 0.6 + 0.1 CPU fit exactly in 1 CPU at once (float arithmetic would leave 0.0999...)."""
    greenroom.init(num_cpus=1, num_gpus=0)
    refs = [at_barrier.options(num_cpus=c).remote(str(tmp_path), f"t{i}", 3) for i, c in enumerate((0.3, 0.6, 0.1))]
    got = greenroom.get(refs, timeout=DEADLINE_S + 10)
    assert sorted(a["CPU"] for a in got) == [0.1, 0.3, 0.6]
    assert greenroom.available_resources()["CPU"] == 1.0


def test_tenths_of_a_cpu_fill_it_exactly(shut_down_after, tmp_path):
    """Ten tasks of 0.1 CPU run at once on 1 CPU, and available CPU is exactly 1.0 after."""
    greenroom.init(num_cpus=1, num_gpus=0)
    refs = [at_barrier.options(num_cpus=0.1).remote(str(tmp_path), f"t{i}", 10) for i in range(10)]
    greenroom.get(refs, timeout=DEADLINE_S + 10)
    assert greenroom.available_resources()["CPU"] == 1.0


def test_fractional_custom_resources_are_exact(shut_down_after, tmp_path):
    """Custom resources use the same fixed point: 0.1 + 0.2 of 'foo' fit in 0.3."""
    greenroom.init(num_cpus=2, num_gpus=0, resources={"foo": 0.3})
    refs = [
        at_barrier.options(resources={"foo": amount}).remote(str(tmp_path), f"t{i}", 2)
        for i, amount in enumerate((0.2, 0.1))
    ]
    got = greenroom.get(refs, timeout=DEADLINE_S + 10)
    assert sorted(a["foo"] for a in got) == [0.1, 0.2]
    assert greenroom.available_resources()["foo"] == 0.3


def test_more_gpus_than_the_node_has_is_unschedulable(gr):
    """num_gpus=5 on a 4-GPU node raises TaskUnschedulableError (a ValueError) at .remote()."""
    with pytest.raises(TaskUnschedulableError) as info:
        assigned.options(num_gpus=5).remote()
    assert isinstance(info.value, ValueError)
    message = str(info.value)
    assert "GPU" in message and "5" in message and "4" in message


def test_unknown_custom_resource_is_unschedulable(gr):
    """A custom resource the node lacks raises TaskUnschedulableError naming it."""
    with pytest.raises(TaskUnschedulableError, match="'no_such_thing'"):
        assigned.options(resources={"no_such_thing": 1}).remote()


@greenroom.remote(accelerator_type="H100")
class OnAnH100:
    def assigned(self):
        return greenroom.get_runtime_context().get_assigned_resources()


def test_accelerator_type_runs_only_where_the_model_is(shut_down_after):
    """accelerator_type="H100" asks for 0.001 of the node resource accelerator_type:H100 (a node
    with H100s has 1, from NVML; here it is given by hand): tasks and actors run on it and hold
    their sliver; a node without the model refuses them at once, saying which it has."""
    from greenroom.util.accelerators import NVIDIA_H100

    greenroom.init(num_cpus=2, num_gpus=0)
    assert not [k for k in greenroom.cluster_resources() if k.startswith("accelerator_type:")]  # no GPU here
    with pytest.raises(TaskUnschedulableError, match="accelerator_type='H100' but this node's GPUs are of no"):
        assigned.options(accelerator_type=NVIDIA_H100).remote()
    with pytest.raises(greenroom.exceptions.ActorUnschedulableError, match="accelerator_type='H100'"):
        OnAnH100.remote()
    greenroom.shutdown()
    greenroom.init(num_cpus=2, num_gpus=2, resources={"accelerator_type:H100": 1})
    got = greenroom.get(assigned.options(num_gpus=1, accelerator_type=NVIDIA_H100).remote(), timeout=DEADLINE_S)
    assert got == {"CPU": 1.0, "GPU": 1.0, "accelerator_type:H100": 0.001}
    actor = OnAnH100.remote()
    assert greenroom.get(actor.assigned.remote(), timeout=DEADLINE_S) == {"accelerator_type:H100": 0.001}
    assert greenroom.available_resources()["accelerator_type:H100"] == pytest.approx(0.999)
    with pytest.raises(TaskUnschedulableError, match="accelerator_type='A100' but this node's GPUs are 'H100'"):
        assigned.options(accelerator_type="A100").remote()


def test_more_memory_than_the_node_has_is_unschedulable(shut_down_after):
    """memory above the node's total raises TaskUnschedulableError naming memory."""
    greenroom.init(num_cpus=2, num_gpus=0, _memory=10**9)
    with pytest.raises(TaskUnschedulableError, match="memory") as info:
        assigned.options(memory=2 * 10**9).remote()
    assert isinstance(info.value, ValueError)


def test_more_cpus_than_the_node_has_is_unschedulable(gr):
    """num_cpus=3 on a 2-CPU node raises TaskUnschedulableError naming CPU."""
    with pytest.raises(TaskUnschedulableError, match="CPU"):
        assigned.options(num_cpus=3).remote()


def test_unschedulable_submission_loses_nothing(gr):
    """After an unschedulable .remote(), the same function with a fitting request still runs."""
    with pytest.raises(TaskUnschedulableError):
        assigned.options(num_gpus=5).remote()
    assert greenroom.get(assigned.options(num_gpus=1).remote(), timeout=DEADLINE_S)["GPU"] == 1.0


BAD_OPTIONS = [
    pytest.param({"num_cpus": -1}, ValueError, id="negative-num_cpus"),
    pytest.param({"num_gpus": -1}, ValueError, id="negative-num_gpus"),
    pytest.param({"num_gpus": 1.5}, ValueError, id="fractional-num_gpus-above-1"),
    pytest.param({"num_cpus": "2"}, TypeError, id="string-num_cpus"),
    pytest.param({"no_such_option": 1}, ValueError, id="unknown-option"),
    pytest.param({"resources": {"CPU": 1}}, ValueError, id="CPU-in-resources"),
    pytest.param({"resources": {"GPU": 1}}, ValueError, id="GPU-in-resources"),
    pytest.param({"resources": {"foo": -1}}, ValueError, id="negative-custom"),
    pytest.param({"memory": -1}, ValueError, id="negative-memory"),
]


@pytest.mark.parametrize("options, error", BAD_OPTIONS)
def test_bad_options_raise_at_decoration(options, error):
    """A bad option raises at @remote(...) time, without starting a node."""
    with pytest.raises(error):
        greenroom.remote(**options)(lambda: None)
    assert not greenroom.is_initialized()


@pytest.mark.parametrize("options, error", BAD_OPTIONS)
def test_bad_options_raise_at_options(options, error):
    """A bad option raises at .options(...) time, without starting a node."""
    with pytest.raises(error):
        assigned.options(**options)
    assert not greenroom.is_initialized()


def test_cpu_limit_bounds_concurrency(shut_down_after):
    """With num_cpus=2, at most two num_cpus=1 tasks run at once, and two do."""
    greenroom.init(num_cpus=2, num_gpus=0)
    spans = greenroom.get([timed.remote(0.3) for _ in range(5)], timeout=DEADLINE_S + 10)
    assert max_overlap(spans) == 2


def test_custom_resource_limit_bounds_concurrency(shut_down_after):
    """With resources={'foo': 2}, at most two tasks needing foo=1 run at once, however many CPUs are free."""
    greenroom.init(num_cpus=4, num_gpus=0, resources={"foo": 2})
    spans = greenroom.get(
        [timed.options(num_cpus=0, resources={"foo": 1}).remote(0.3) for _ in range(4)], timeout=DEADLINE_S + 10
    )
    assert max_overlap(spans) == 2


def test_custom_resource_task_is_assigned_it(shut_down_after):
    """init(resources={'foo': 2}) then a task with resources={'foo': 1} runs and is assigned foo 1."""
    greenroom.init(num_cpus=2, num_gpus=0, resources={"foo": 2})
    got = greenroom.get(assigned.options(resources={"foo": 1}).remote(), timeout=DEADLINE_S)
    assert got == {"CPU": 1.0, "foo": 1.0}


def test_init_twice_raises(shut_down_after):
    """A second init() raises RuntimeError; with ignore_reinit_error=True it returns and keeps the node."""
    greenroom.init(num_cpus=2, num_gpus=0)
    with pytest.raises(RuntimeError):
        greenroom.init(num_cpus=3, num_gpus=0)
    greenroom.init(num_cpus=3, num_gpus=0, ignore_reinit_error=True)
    assert greenroom.is_initialized()
    assert greenroom.cluster_resources()["CPU"] == 2.0
    assert greenroom.get(assigned.remote(), timeout=DEADLINE_S) == {"CPU": 1.0}


@pytest.mark.parametrize(
    "kwargs",
    [
        pytest.param({"local_mode": True}, id="local_mode"),
        pytest.param({"runtime_env": {"pip": ["x"]}}, id="runtime_env-pip"),
    ],
)
def test_init_arguments_that_cannot_be_honoured(kwargs, shut_down_after):
    """init() with an argument greenroom cannot honour raises ValueError and starts nothing."""
    with pytest.raises(ValueError):
        greenroom.init(num_cpus=1, num_gpus=0, **kwargs)
    assert not greenroom.is_initialized()


def test_init_accepts_configure_logging(shut_down_after):
    """init(configure_logging=False), as Ray's Tune examples call it, starts a node."""
    greenroom.init(num_cpus=1, num_gpus=0, configure_logging=False)
    assert greenroom.get(assigned.remote(), timeout=DEADLINE_S) == {"CPU": 1.0}


def test_init_address_local(shut_down_after):
    """init(address='local') starts a node that runs tasks."""
    greenroom.init(address="local", num_cpus=1, num_gpus=0)
    assert greenroom.get(assigned.remote(), timeout=DEADLINE_S) == {"CPU": 1.0}


def test_is_initialized_follows_init_and_shutdown():
    """is_initialized() is False before init, True after, False again after shutdown."""
    assert not greenroom.is_initialized()
    greenroom.init(num_cpus=1, num_gpus=0)
    try:
        assert greenroom.is_initialized()
    finally:
        greenroom.shutdown()
    assert not greenroom.is_initialized()


def test_remote_before_init_starts_a_default_node(shut_down_after):
    """Calling .remote() before init() starts a default node, as Ray does."""
    assert not greenroom.is_initialized()
    ref = assigned.remote()
    assert greenroom.is_initialized()
    assert greenroom.get(ref, timeout=DEADLINE_S) == {"CPU": 1.0}
    assert greenroom.cluster_resources()["CPU"] >= 1.0
