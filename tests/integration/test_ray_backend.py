"""The core API on a real Ray cluster: init(address="ray:HOST:PORT") and the same program.

One Ray head per session (conftest.ray_head), one connection for this module (on_ray).
"""

from __future__ import annotations

import asyncio
import os

import pytest
from helpers import run_python

import greenroom
from greenroom import exceptions
from greenroom.util import placement_group, remove_placement_group
from greenroom.util.scheduling_strategies import PlacementGroupSchedulingStrategy

pytestmark = [pytest.mark.ray_backend, pytest.mark.timeout(120)]



@greenroom.remote
def square(x):
    return x * x


@greenroom.remote
def env_and_gpus():
    return os.environ.get("CUDA_VISIBLE_DEVICES"), greenroom.get_gpu_ids()


@greenroom.remote(num_returns=2)
def split(xs):
    return xs[:1], xs[1:]


@greenroom.remote
def fail(message):
    raise KeyError(message)


@greenroom.remote
def fail_inside():
    return greenroom.get(fail.remote("deep"))


@greenroom.remote
def first_of(refs):
    return greenroom.get(refs[0])


@greenroom.remote(max_retries=0)
def crash():
    os._exit(3)


@greenroom.remote
def block(seconds):
    import time

    time.sleep(seconds)
    return seconds


@greenroom.remote
class Counter:
    def __init__(self, start):
        self.n = start

    def add(self, k):
        self.n += k
        return self.n

    def gpu_env(self):
        return os.environ.get("CUDA_VISIBLE_DEVICES"), greenroom.get_gpu_ids()

    @greenroom.method(num_returns=2)
    def pair(self):
        return "a", "b"


@greenroom.remote
class Gate:
    """An async actor: calls run concurrently on its loop."""

    def __init__(self):
        self.event = asyncio.Event()

    async def wait(self):
        await self.event.wait()
        return "opened"

    async def open(self):
        self.event.set()


@greenroom.remote
class Broken:
    def __init__(self):
        raise RuntimeError("bad constructor")

    def ping(self):
        return 1


@greenroom.remote
def call_actor(handle, k):
    return greenroom.get(handle.add.remote(k))


def test_tasks_refs_and_options(on_ray):
    """Tasks, num_returns, .options(), a put value and refs as arguments behave as on one machine."""
    assert on_ray.get([square.remote(i) for i in range(4)]) == [0, 1, 4, 9]
    left, right = split.remote([1, 2, 3])
    assert on_ray.get([left, right]) == [[1], [2, 3]]
    assert on_ray.get(square.options(num_cpus=0.5).remote(5)) == 25
    stored = on_ray.put(7)
    assert on_ray.get(square.remote(stored)) == 49  # a top-level ref arrives as its value
    assert on_ray.get(first_of.remote([stored])) == 7  # a nested one arrives as a ref
    assert isinstance(stored, greenroom.ObjectRef)


def test_cuda_visible_devices(on_ray):
    """Work that asked for no GPU sees CUDA_VISIBLE_DEVICES=""; GPU work sees its own ids."""
    assert on_ray.get(env_and_gpus.remote()) == ("", [])
    visible, ids = on_ray.get(env_and_gpus.options(num_gpus=1).remote())
    assert len(ids) == 1 and visible == str(ids[0])
    cpu_actor = Counter.remote(0)
    assert on_ray.get(cpu_actor.gpu_env.remote()) == ("", [])
    gpu_actor = Counter.options(num_gpus=1).remote(0)
    visible, ids = on_ray.get(gpu_actor.gpu_env.remote())
    assert len(ids) == 1 and visible == str(ids[0])
    on_ray.kill(gpu_actor)


def test_errors_keep_greenroom_types(on_ray):
    """A task's error is RayTaskError and its original type, the innermost one when nested."""
    with pytest.raises(KeyError) as info:
        on_ray.get(fail.remote("boom"))
    assert isinstance(info.value, exceptions.RayTaskError)
    assert "boom" in str(info.value) and "fail" in str(info.value)
    with pytest.raises(KeyError) as info:
        on_ray.get(fail_inside.remote())
    assert isinstance(info.value, exceptions.RayTaskError) and "deep" in str(info.value)
    with pytest.raises(exceptions.WorkerCrashedError):
        on_ray.get(crash.remote())
    slow = block.remote(30)
    with pytest.raises(exceptions.GetTimeoutError):
        on_ray.get(slow, timeout=0.05)
    on_ray.cancel(slow, force=True)
    with pytest.raises((exceptions.TaskCancelledError, exceptions.WorkerCrashedError)):
        on_ray.get(slow, timeout=30)


def test_bad_options_fail_at_decoration(on_ray):
    """greenroom checks options before they reach Ray."""
    with pytest.raises(ValueError, match="num_gpus"):
        greenroom.remote(num_gpus=1.5)(lambda: 1)
    with pytest.raises(ValueError, match="unknown option"):
        square.options(num_cpu=1)


def test_wait_await_and_future(on_ray):
    """wait() orders as given; refs are awaitable and have futures, with errors translated."""
    fast, slow = square.remote(2), block.remote(20)
    ready, not_ready = on_ray.wait([slow, fast], num_returns=1, timeout=15)
    assert ready == [fast] and not_ready == [slow]
    on_ray.cancel(slow, force=True)

    async def main():
        return await square.remote(6)

    assert asyncio.run(main()) == 36
    assert square.remote(3).future().result(timeout=30) == 9
    with pytest.raises(KeyError):
        fail.remote("f").future().result(timeout=30)


def test_actors(on_ray):
    """Actor calls, @method(num_returns), named actors, handles in tasks, kill, a dead constructor."""
    c = Counter.options(name="counter").remote(10)
    assert on_ray.get(c.add.remote(1)) == 11
    assert on_ray.get(list(c.pair.remote())) == ["a", "b"]
    again = on_ray.get_actor("counter")
    assert on_ray.get(again.add.remote(1)) == 12
    assert on_ray.get(call_actor.remote(c, 3)) == 15  # a handle travels to a task
    on_ray.kill(c)
    with pytest.raises(exceptions.RayActorError):
        on_ray.get(c.add.remote(1), timeout=30)
    with pytest.raises(exceptions.ActorDiedError, match="bad constructor"):
        on_ray.get(Broken.remote().ping.remote(), timeout=30)


def test_async_actor(on_ray):
    """An async actor runs a second call while the first awaits."""
    gate = Gate.remote()
    waiting = gate.wait.remote()
    on_ray.get(gate.open.remote(), timeout=30)
    assert on_ray.get(waiting, timeout=30) == "opened"


def test_placement_groups_and_context(on_ray):
    """Placement groups and PlacementGroupSchedulingStrategy; cluster resources; the runtime context."""
    assert on_ray.cluster_resources()["GPU"] == 2.0 and on_ray.nodes()
    pg = placement_group([{"CPU": 1, "GPU": 1}], strategy="PACK")
    assert pg.wait(timeout_seconds=30)
    strategy = PlacementGroupSchedulingStrategy(pg, placement_group_bundle_index=0)

    @greenroom.remote(num_gpus=1, num_cpus=0)
    def where():
        ctx = greenroom.get_runtime_context()
        return greenroom.get_gpu_ids(), ctx.get_placement_group_id(), ctx.get_task_id() is not None

    ids, pg_id, has_task = on_ray.get(where.options(scheduling_strategy=strategy).remote())
    assert len(ids) == 1 and pg_id == pg.id.hex() and has_task
    remove_placement_group(pg)
    assert greenroom.get_runtime_context().get_node_id()


def test_a_request_no_node_fits_waits_and_is_logged_once(on_ray, caplog):
    """On a cluster (which may grow) an unfittable request waits, logged once, instead of failing."""
    needy = greenroom.remote(resources={"tpu_pod": 1}, num_cpus=0)(lambda: 1)
    with caplog.at_level("WARNING", logger="greenroom"):
        first, second = needy.remote(), needy.remote()
    assert [r.getMessage() for r in caplog.records].count(caplog.records[0].getMessage()) == 1
    assert "tpu_pod" in caplog.records[0].getMessage() and "waits" in caplog.records[0].getMessage()
    ready, _ = on_ray.wait([first, second], num_returns=1, timeout=0.2)
    assert ready == []
    on_ray.cancel(first)
    on_ray.cancel(second)


@greenroom.remote
def count_to(n):
    for i in range(n):
        yield i


@greenroom.remote
class Streamer:
    def __init__(self):
        self.total = 0

    def numbers(self, n):
        for i in range(n):
            yield i

    def echo(self, x):
        return x

    def add(self, k):
        self.total += k
        return self.total


@greenroom.remote
async def doubled(x):
    await asyncio.sleep(0)
    return 2 * x


def test_generators_on_ray(on_ray):
    """Streaming and dynamic generators (tasks and methods), async for, wait() on a stream."""
    stream = count_to.remote(3)
    assert isinstance(stream, greenroom.ObjectRefGenerator)
    assert [on_ray.get(r) for r in stream] == [0, 1, 2]
    dynamic = on_ray.get(count_to.options(num_returns="dynamic").remote(2))
    assert isinstance(dynamic, greenroom.DynamicObjectRefGenerator)
    assert [on_ray.get(r) for r in dynamic] == [0, 1]
    assert [on_ray.get(r) for r in Streamer.remote().numbers.remote(2)] == [0, 1]
    waiting = count_to.remote(1)
    ready, _ = on_ray.wait([waiting], timeout=30)
    assert ready == [waiting]

    async def collect():
        return [await r async for r in count_to.remote(2)]

    assert asyncio.run(collect()) == [0, 1]
    assert on_ray.get(doubled.remote(21)) == 42  # Ray refuses async def tasks; greenroom runs them


def test_dag_and_util_on_ray(on_ray):
    """The DAG API, ActorPool, util.queue.Queue and util.multiprocessing.Pool run on Ray as they are."""
    from greenroom.dag import InputNode
    from greenroom.util import ActorPool
    from greenroom.util.multiprocessing import Pool
    from greenroom.util.queue import Queue

    with InputNode() as given:
        dag = square.bind(given)
    assert on_ray.get(dag.execute(4)) == 16
    pool = ActorPool([Streamer.remote(), Streamer.remote()])
    assert sorted(pool.map_unordered(lambda a, k: a.echo.remote(k), [3, 1, 4, 2])) == [1, 2, 3, 4]
    queue = Queue()
    queue.put("a")
    assert queue.get(timeout=30) == "a" and queue.empty()
    with Pool(2) as processes:
        assert processes.map(abs, [-1, -2]) == [1, 2]


def test_ray_workers_import_greenroom_only_when_used(ray_head):
    """A Ray worker running greenroom work that never touches greenroom does not import it (an
    actor starts as fast as on plain Ray); one whose code imports it later runs it on Ray."""
    code = (
        "import sys, greenroom\n"
        f"greenroom.init(address='ray:{ray_head.gcs_address}')\n"
        "namespace = {'__name__': 'by_value'}\n"  # defined outside any module: pickled by value
        "exec('''\n"
        "class Plain:\n"
        "    def loaded(self):\n"
        "        import sys, os\n"
        "        return 'greenroom' in sys.modules, os.environ.get('CUDA_VISIBLE_DEVICES')\n"
        "    def late(self):\n"
        "        import greenroom\n"
        "        return greenroom.get(greenroom.put(5)), type(greenroom.runtime.state.current()).__name__\n"
        "''', namespace)\n"
        "actor = greenroom.remote(namespace['Plain']).remote()\n"
        "print('LOADED', greenroom.get(actor.loaded.remote(), timeout=60))\n"
        "print('LATE', greenroom.get(actor.late.remote(), timeout=60))\n"
        "greenroom.shutdown()\n"
    )
    out = run_python(code, timeout=120)
    assert out.returncode == 0, out.stderr[-3000:]
    assert "LOADED (False, '')" in out.stdout
    assert "LATE (5, 'RayRuntime')" in out.stdout


def test_a_placement_group_no_node_fits_waits_and_is_logged_once(on_ray, caplog):
    """A placement group no node can hold waits (the cluster may grow), logged once per request."""
    with caplog.at_level("WARNING", logger="greenroom"):
        big = [placement_group([{"CPU": 1, "GPU": 3}], name=f"big{i}") for i in range(2)]
        packed = placement_group([{"CPU": 1}, {"CPU": 1}, {"CPU": 1}], strategy="STRICT_PACK")
    said = [r.getMessage() for r in caplog.records]
    assert len(said) == 2, said
    assert "placement group 'big0'" in said[0] and "waits" in said[0] and "'GPU': 3" in said[0]
    assert "STRICT_PACK" in said[1]
    assert not big[0].wait(timeout_seconds=0.2) and not packed.wait(timeout_seconds=0)
    for pg in [*big, packed]:
        remove_placement_group(pg)


def test_runtime_env_vars_and_accelerator_type_go_to_ray(on_ray):
    """A task's and an actor's runtime_env env_vars reach Ray's workers; accelerator_type is Ray's
    resource of the same name, which this CPU head lacks (Ray would wait: greenroom's own node refuses
    it at once instead, see test_resources)."""

    @greenroom.remote(runtime_env={"env_vars": {"GR_ON_RAY": "task"}})
    def look():
        return os.environ.get("GR_ON_RAY")

    @greenroom.remote(runtime_env={"env_vars": {"GR_ON_RAY": "actor"}})
    class Looker:
        def look(self):
            return os.environ.get("GR_ON_RAY")

    assert greenroom.get(look.remote(), timeout=60) == "task"
    assert greenroom.get(Looker.remote().look.remote(), timeout=60) == "actor"
    waiting = look.options(accelerator_type="H100").remote()
    assert greenroom.wait([waiting], timeout=1)[0] == []
    greenroom.cancel(waiting)
