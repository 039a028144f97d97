"""runtime_env's env_vars: the job's for every worker, a task's or actor's own on top, inherited by
the work they submit; the fields greenroom cannot honour on its own node fail where they are given."""

from __future__ import annotations

import json
import os

import pytest
from helpers import process_ended, wait_for

import greenroom as ray
from greenroom.runtime_env import RuntimeEnv

pytestmark = pytest.mark.timeout(60)


@ray.remote
def seen(*names: str) -> tuple:
    return tuple(os.environ.get(n) for n in names)


@ray.remote(runtime_env={"env_vars": {"GR_TASK": "task", "GR_JOB": "overridden"}})
def with_own_env() -> tuple:
    return os.environ.get("GR_JOB"), os.environ.get("GR_TASK"), ray.get(seen.remote("GR_TASK"))


@ray.remote(runtime_env=RuntimeEnv(env_vars={"GR_ACTOR": "actor"}))
class WithEnv:
    def look(self) -> tuple:
        return os.environ.get("GR_ACTOR"), ray.get(seen.remote("GR_ACTOR"))


@pytest.fixture
def gr_env():
    ray.init(num_cpus=2, num_gpus=0, runtime_env=RuntimeEnv(env_vars={"GR_JOB": "job"}))
    yield ray
    ray.shutdown()


def test_the_jobs_env_vars_reach_every_worker(gr_env):
    assert ray.get(seen.remote("GR_JOB"), timeout=30) == ("job",)
    assert ray.get(WithEnv.remote().look.remote(), timeout=30) == ("actor", ("actor",))
    assert "GR_JOB" not in os.environ  # the driver's own environment is left alone, as in Ray


def test_a_tasks_own_env_vars_win_and_its_nested_work_inherits_them(gr_env):
    assert ray.get(with_own_env.remote(), timeout=30) == ("overridden", "task", ("task",))
    assert ray.get(seen.remote("GR_TASK", "GR_JOB"), timeout=30) == (None, "job")  # kept apart
    assert ray.get(seen.options(runtime_env={"env_vars": {"GR_TASK": "opt"}}).remote("GR_TASK"), timeout=30) == (
        "opt",
    )


@ray.remote
def nested_with_own_env() -> tuple:
    """Submitted from a worker (its spec crosses the wire): its own env_vars, then its caller's."""
    own = seen.options(runtime_env={"env_vars": {"GR_TASK": "nested"}}).remote("GR_TASK", "GR_JOB")
    return ray.get(own), ray.get(seen.remote("GR_TASK"))


def test_work_submitted_from_a_worker_with_its_own_env_vars(gr_env):
    assert ray.get(nested_with_own_env.remote(), timeout=30) == (("nested", "job"), (None,))


def test_short_tasks_sent_ahead_never_run_in_another_tasks_environment(gr_env):
    """Many short tasks of two environments, interleaved: each runs with its own (a worker only takes
    followers of its own environment)."""
    plain = seen
    own = seen.options(runtime_env={"env_vars": {"GR_TASK": "own"}})
    refs = [(own if i % 3 == 0 else plain).remote("GR_TASK") for i in range(300)]
    results = ray.get(refs, timeout=60)
    assert results == [("own",) if i % 3 == 0 else (None,) for i in range(300)]


@ray.remote
def context_env() -> dict:
    return dict(ray.get_runtime_context().runtime_env)


def test_the_runtime_context_says_which_env_vars_apply(gr_env):
    """get_runtime_context().runtime_env: the job's in the driver and every worker, with a task's or
    actor's own on top; get_runtime_env_string() is its JSON."""
    context = ray.get_runtime_context()
    assert context.runtime_env == {"env_vars": {"GR_JOB": "job"}}
    assert json.loads(context.get_runtime_env_string()) == {"env_vars": {"GR_JOB": "job"}}
    assert ray.get(context_env.remote(), timeout=30) == {"env_vars": {"GR_JOB": "job"}}
    own = context_env.options(runtime_env={"env_vars": {"GR_JOB": "mine", "GR_TASK": "t"}}).remote()
    assert ray.get(own, timeout=30) == {"env_vars": {"GR_JOB": "mine", "GR_TASK": "t"}}


@ray.remote
def pid_and(name: str) -> tuple:
    return os.getpid(), os.environ.get(name)


def test_idle_workers_of_many_environments_are_bounded(gr_env):
    """Each env_vars set gets workers of its own; past MAX_IDLE_WITH_ENV_VARS idle ones, the least
    recently used environments' workers exit, and the most recent keeps its worker."""
    from greenroom.runtime.worker_pool import MAX_IDLE_WITH_ENV_VARS

    pids = []
    for i in range(MAX_IDLE_WITH_ENV_VARS + 6):
        pid, value = ray.get(pid_and.options(runtime_env={"env_vars": {"GR_TASK": str(i)}}).remote("GR_TASK"))
        assert value == str(i)
        pids.append(pid)
    assert len(set(pids)) == len(pids)  # one worker per environment
    wait_for(lambda: sum(not process_ended(p) for p in pids) <= MAX_IDLE_WITH_ENV_VARS, "the oldest to exit")
    assert all(process_ended(p) for p in pids[:6]) and not process_ended(pids[-1])
    again = pid_and.options(runtime_env={"env_vars": {"GR_TASK": str(len(pids) - 1)}}).remote("GR_TASK")
    assert ray.get(again, timeout=30)[0] == pids[-1]  # reused


def test_what_cannot_be_honoured_fails_where_it_is_given():
    for runtime_env in ({"pip": ["requests"]}, {"working_dir": "."}, RuntimeEnv(conda="env")):
        with pytest.raises(ValueError, match="honours only env_vars"):
            ray.init(num_cpus=1, num_gpus=0, runtime_env=runtime_env)
        assert not ray.is_initialized()
        with pytest.raises(ValueError, match="honours only env_vars"):
            ray.remote(runtime_env=runtime_env)(lambda: None)
    with pytest.raises(TypeError, match="dict of str to str"):
        ray.remote(runtime_env={"env_vars": {"N": 1}})(lambda: None)
    with pytest.raises(TypeError, match="expected a dict"):
        ray.init(num_cpus=1, num_gpus=0, runtime_env="env_vars")
    assert not ray.is_initialized()
