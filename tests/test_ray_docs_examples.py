"""Programs written the way Ray's core documentation shows them run unchanged on greenroom.

Each program in ``examples/ray_docs/`` (see its README) runs in a fresh interpreter against this
checkout's greenroom, a few at a time, with a timeout. The ones greenroom can't run yet are listed
in ``FAILING`` with the reason, as strict xfails: when one starts passing, its test fails until it
moves to ``PASSING``.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = REPO / "examples" / "ray_docs"
PROGRAM_TIMEOUT_S = 40
PARALLEL = 3  # most programs wait more than they compute; 3 at once keeps 2 cores busy

PASSING = [
    "01_walkthrough.py",
    "02_tasks.py",
    "03_multiple_returns.py",
    "04_resources.py",
    "05_objects.py",
    "06_passing_object_args.py",
    "07_closure_capture.py",
    "08_wait_limit_pending.py",
    "09_process_as_finished.py",
    "10_nested_tasks.py",
    "11_pattern_quicksort.py",
    "12_actors.py",
    "13_actor_task_order.py",
    "14_named_actors.py",
    "15_get_if_exists_detached.py",
    "16_namespaces.py",
    "17_async_actors.py",
    "18_asyncio_objectrefs.py",
    "19_threaded_actors.py",
    "20_concurrency_groups.py",
    "21_terminating_actors.py",
    "22_actor_restart.py",
    "23_task_exceptions.py",
    "24_exception_cause.py",
    "25_task_retries.py",
    "26_cancel_tasks.py",
    "27_cancel_actor_tasks.py",
    "28_generators_streaming.py",
    "29_generators_wait_asyncio.py",
    "30_generators_dynamic.py",
    "31_actor_pool.py",
    "32_queue.py",
    "33_multiprocessing_pool.py",
    "34_dag_functions.py",
    "35_dag_actors_input.py",
    "36_placement_groups.py",
    "37_placement_group_capture.py",
    "38_runtime_context.py",
    "39_gpus.py",
    "40_fractional_gpus.py",
    "41_as_completed.py",
    "42_tree_of_actors.py",
    "43_starting_ray.py",
    "44_numpy_readonly.py",
    "45_custom_serializer.py",
]

FAILING: dict[str, str] = {}  # none fails today

_run = importlib.util.spec_from_file_location("ray_docs_run", EXAMPLES / "run.py")
runner = importlib.util.module_from_spec(_run)
sys.modules[_run.name] = runner  # dataclasses look their module up there
_run.loader.exec_module(runner)

pytestmark = pytest.mark.timeout(PROGRAM_TIMEOUT_S * 3)


@pytest.fixture(scope="module")
def results():
    """Start every program now, PARALLEL at a time, in the order the tests ask for them."""
    env = os.environ.copy()
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), env.get("PYTHONPATH")) if p)
    names = PASSING + list(FAILING)
    with ThreadPoolExecutor(max_workers=PARALLEL) as pool:
        yield {name: pool.submit(runner.run_program, EXAMPLES / name, PROGRAM_TIMEOUT_S, env) for name in names}


def test_every_program_is_listed():
    on_disk = {p.name for p in runner.programs()}
    listed = set(PASSING) | set(FAILING)
    assert on_disk == listed, f"not listed here: {sorted(on_disk - listed)}; missing: {sorted(listed - on_disk)}"


@pytest.mark.parametrize(
    "name",
    PASSING + [pytest.param(n, marks=pytest.mark.xfail(strict=True, reason=r)) for n, r in FAILING.items()],
)
def test_ray_docs_example(name, results):
    result = results[name].result()
    tail = "\n".join(result.output.splitlines()[-25:])
    assert result.status == "PASS", f"{name}: {result.status} after {result.seconds:.1f} s: {result.last_line}\n{tail}"
