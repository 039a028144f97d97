"""A head node: the CLI, attached drivers, many jobs, a driver or the head killed."""

from __future__ import annotations

import collections
import json
import os
import signal
import stat
import subprocess
import sys
import textwrap

import numpy as np
import psutil
import pytest
from head_helper import DEADLINE_S, Driver, Head, attach_env, cli
from helpers import process_ended, wait_for

import greenroom as ray
from greenroom import exceptions

pytestmark = pytest.mark.timeout(120)


@pytest.fixture(scope="module")
def head():
    h = Head("--num-cpus", "2", "--num-gpus", "2")
    yield h
    h.stop()


@pytest.fixture
def attached(head):
    with attach_env(head):
        ray.init(address="auto")
        yield ray
        ray.shutdown()


def test_start_prints_how_to_attach_and_files_are_private(head):
    out = head.started.stdout
    assert f"greenroom head started (pid {head.pid})" in out and "2 CPUs, 2 GPUs" in out
    assert 'init(address="auto")' in out and head.socket in out
    assert stat.S_IMODE(os.stat(head.temp_dir).st_mode) == 0o700
    assert stat.S_IMODE(os.stat(head.socket).st_mode) == 0o600
    assert stat.S_ISSOCK(os.stat(head.socket).st_mode)
    assert stat.S_IMODE(os.stat(os.path.join(head.temp_dir, "head.json")).st_mode) == 0o600


def test_second_start_and_bad_arguments_say_what_to_do(head):
    again = cli("start", "--head", temp_dir=head.temp_dir, check=False)
    assert again.returncode == 1 and "already running" in again.stderr and "Traceback" not in again.stderr
    bad = cli("start", "--head", "--resources", "{not json", temp_dir=head.temp_dir, check=False)
    assert bad.returncode == 2 and "--resources must be JSON" in bad.stderr
    no_head = cli("start", temp_dir=head.temp_dir, check=False)
    assert no_head.returncode == 1 and "--head" in no_head.stderr
    for command in ("start", "stop", "status", "dashboard"):
        assert "--temp-dir" in cli(command, "--help", temp_dir=head.temp_dir).stdout


def test_commands_without_a_head_say_how_to_start_one(tmp_path):
    for command in ("status", "stop"):
        out = cli(command, temp_dir=str(tmp_path), check=False)
        assert out.returncode == 1 and "greenroom start --head" in out.stderr and "Traceback" not in out.stderr


def test_python_dash_m_and_console_script_are_the_same_command():
    out = subprocess.run([sys.executable, "-m", "greenroom", "--help"], capture_output=True, text=True)
    assert out.returncode == 0 and "start" in out.stdout and "status" in out.stdout


def test_attached_driver_runs_the_api(attached, head, capfd):
    ctx = ray.get_runtime_context()
    assert ctx.get_job_id() not in ("01000000", "") and ctx.namespace.startswith("anonymous-")
    assert ray.cluster_resources()["CPU"] == 2 and ray.cluster_resources()["GPU"] == 2

    @ray.remote
    def square(x):
        print("squaring", x)
        return x * x

    assert ray.get([square.remote(i) for i in range(20)]) == [i * i for i in range(20)]
    ray.get(square.remote(7))
    wait_for(lambda: "(pid=" in (seen := capfd.readouterr().out) and "squaring 7" in seen, "the worker's output")

    @ray.remote(num_gpus=1)
    def gpus():
        return ray.get_gpu_ids(), os.environ["CUDA_VISIBLE_DEVICES"]

    ids, visible = ray.get(gpus.remote())
    assert len(ids) == 1 and visible == str(ids[0])

    @ray.remote
    class Counter:
        def __init__(self):
            self.n = 0

        def add(self, k):
            self.n += k
            return self.n

    c = Counter.remote()
    assert ray.get([c.add.remote(1) for _ in range(5)])[-1] == 5

    big = np.arange(2_000_000, dtype=np.float64)
    ref = ray.put(big)
    back = ray.get(ref)
    assert back.sum() == big.sum() and not back.flags.writeable  # mapped from the shared store

    @ray.remote
    def total(a):
        return float(a.sum())

    assert ray.get(total.remote(ref)) == float(big.sum())
    ready, rest = ray.wait([square.remote(2), square.remote(3)], num_returns=2, timeout=DEADLINE_S)
    assert len(ready) == 2 and not rest
    assert square.remote(6).future().result(timeout=DEADLINE_S) == 36

    @ray.remote(num_gpus=8)
    def too_big():
        pass

    with pytest.raises(exceptions.TaskUnschedulableError, match="GPU=8"):
        too_big.remote()


def test_attached_driver_awaits_refs(attached):
    import asyncio

    @ray.remote
    def one():
        return 1

    async def main():
        return await one.remote() + await asyncio.wrap_future(one.remote().future())

    assert asyncio.run(main()) == 2


def test_timeline_from_an_attached_driver(attached, tmp_path):
    @ray.remote
    def work():
        return os.getpid()

    pid = ray.get(work.remote())
    path = tmp_path / "trace.json"
    ray.timeline(filename=str(path))
    events = json.loads(path.read_text())
    assert any(e["name"].endswith("work") and e["args"]["worker_pid"] == pid and e["ph"] == "X" for e in events)


def test_auto_without_a_head_raises_connection_error(tmp_path, monkeypatch):
    monkeypatch.setenv("GREENROOM_TEMP_DIR", str(tmp_path))
    with pytest.raises(ConnectionError, match="greenroom start --head"):
        ray.init(address="auto")
    assert not ray.is_initialized()


def test_resources_are_the_heads(head):
    with attach_env(head), pytest.raises(ValueError, match="greenroom start --head --num-cpus"):
        ray.init(address="auto", num_cpus=4)


def test_address_variable_and_socket_path(head, monkeypatch):
    monkeypatch.setenv("GREENROOM_ADDRESS", head.socket)
    ray.init()
    try:
        assert ray.get_runtime_context().get_job_id() != "01000000"
    finally:
        ray.shutdown()
    ray.init(address=head.socket)
    ray.shutdown()


def test_an_attached_drivers_task_runs_with_its_own_env_vars(head, attached):
    """A task's runtime_env env_vars reach the head's workers from an attached driver; the driver's
    own init(runtime_env=) can't set the head's (its workers serve every driver)."""

    @ray.remote(runtime_env={"env_vars": {"GR_ATTACHED": "yes"}})
    def look():
        return os.environ.get("GR_ATTACHED")

    assert ray.get(look.remote(), timeout=DEADLINE_S) == "yes"
    ray.shutdown()
    with attach_env(head), pytest.raises(ValueError, match="environment of `greenroom start"):
        ray.init(address="auto", runtime_env={"env_vars": {"GR_ATTACHED": "no"}})


def test_workers_import_the_attached_drivers_modules(head, tmp_path):
    """A module beside the driver (its working directory) imports in the head's workers."""
    (tmp_path / "beside_the_driver.py").write_text("def answer():\n    return 42\n")
    code = textwrap.dedent("""
        import greenroom as ray
        ray.init(address="auto")

        @ray.remote
        def use():
            import beside_the_driver
            return beside_the_driver.answer()

        print("ANSWER", ray.get(use.remote(), timeout=30), flush=True)
    """)
    driver = Driver(head, code, cwd=str(tmp_path))
    try:
        assert driver.expect("ANSWER") == "42"
        assert driver.finish()[0] == 0
    finally:
        if driver.proc.poll() is None:
            driver.kill()


@ray.remote
def job_seen() -> tuple:
    ctx = ray.get_runtime_context()
    return ctx.get_job_id(), ctx.namespace


@ray.remote
class JobSeer:
    def seen(self) -> tuple:
        return ray.get_runtime_context().get_job_id(), ray.get_runtime_context().namespace


@ray.remote
def make_named_actor() -> tuple:
    """Nested work: an actor created in a task, named without a namespace, and a task of its own."""
    seer = JobSeer.options(name="made-inside", lifetime="detached").remote()
    return ray.get(seer.seen.remote()), ray.get(job_seen.remote())


JOB_DRIVER = textwrap.dedent("""
    import greenroom as ray
    ray.init(address="auto", namespace="beta")

    @ray.remote
    def job_seen():
        ctx = ray.get_runtime_context()
        return ctx.get_job_id(), ctx.namespace

    seen = ray.get([job_seen.remote() for _ in range(4)], timeout=30)
    print("JOB", ray.get_runtime_context().get_job_id(), *sorted(set(seen))[0], len(set(seen)), flush=True)
""")


def test_work_runs_as_the_job_of_the_driver_it_is_for(head):
    """Workers serve every driver in turn: inside a task, an actor, or work nested in them, the job id
    and namespace are those of the driver the work is for; names without a namespace land in it, and
    the state API lists the work under that job."""
    from greenroom.util import state

    with attach_env(head):
        ray.init(address="auto", namespace="alpha")
    try:
        mine = ray.get_runtime_context().get_job_id()
        assert set(ray.get([job_seen.remote() for _ in range(4)], timeout=DEADLINE_S)) == {(mine, "alpha")}
        other = Driver(head, JOB_DRIVER)
        theirs, seen_id, seen_namespace, kinds = other.expect("JOB").split()
        assert other.finish()[0] == 0
        assert theirs not in (mine, "01000000") and (seen_id, seen_namespace, kinds) == (theirs, "beta", "1")
        # The same workers, back with this driver's work.
        assert set(ray.get([job_seen.remote() for _ in range(4)], timeout=DEADLINE_S)) == {(mine, "alpha")}
        assert ray.get(make_named_actor.remote(), timeout=DEADLINE_S) == ((mine, "alpha"), (mine, "alpha"))
        inside = ray.get_actor("made-inside")  # this job's namespace
        assert ray.get(inside.seen.remote(), timeout=DEADLINE_S) == (mine, "alpha")
        [row] = state.list_actors(filters=[("name", "=", "made-inside")])
        assert (row["job_id"], row["ray_namespace"]) == (mine, "alpha")
        rows = state.list_tasks(filters=[("name", "=", "job_seen")], limit=1000)
        by_job = collections.Counter(r["job_id"] for r in rows)
        assert by_job == {mine: 9, theirs: 4}, by_job
        ray.kill(inside)
    finally:
        ray.shutdown()


FAIR_DRIVER = textwrap.dedent("""
    import sys, time
    import greenroom as ray
    ray.init(address="auto")

    @ray.remote
    def slow(path):
        with open(path, "a") as f:
            f.write("x")
        time.sleep(0.5)

    refs = [slow.remote(sys.argv[1] if len(sys.argv) > 1 else "{path}") for _ in range(40)]
    print("SUBMITTED", flush=True)
    ray.get(refs)
""")


def test_two_drivers_share_the_cpus(head, tmp_path):
    started = tmp_path / "started"
    started.write_text("")
    a = Driver(head, FAIR_DRIVER.format(path=started))
    try:
        a.expect("SUBMITTED")
        wait_for(lambda: len(started.read_text()) >= 2, "the first driver's tasks to start")
        with attach_env(head):
            ray.init(address="auto")
            try:

                @ray.remote
                def quick():
                    return "done"

                assert ray.get([quick.remote(), quick.remote()], timeout=DEADLINE_S) == ["done", "done"]
                # Both ran before the first driver's queue drained: it was not served first in full.
                assert len(started.read_text()) < 40
            finally:
                ray.shutdown()
    finally:
        a.kill()
    with attach_env(head):  # the killed driver's queue is gone: its resources came back
        ray.init(address="auto")
        try:
            wait_for(lambda: ray.available_resources().get("CPU") == 2, "the CPUs to come back")
        finally:
            ray.shutdown()


OWNER_DRIVER = textwrap.dedent("""
    import os, sys, time
    import greenroom as ray
    ray.init(address="auto", namespace="shared")

    @ray.remote
    class Keeper:
        def __init__(self):
            self.n = 0
        def add(self):
            self.n += 1
            return self.n
        def pid(self):
            return os.getpid()

    @ray.remote
    def forever():
        time.sleep(3600)

    keeper = Keeper.options(name="keeper", lifetime="detached").remote()
    temp = Keeper.options(name="temp").remote()
    print("COUNT", ray.get(keeper.add.remote()), flush=True)
    print("PIDS", ray.get(keeper.pid.remote()), ray.get(temp.pid.remote()), flush=True)
    running = [forever.remote() for _ in range(3)]
    print("READY", flush=True)
    sys.stdin.readline()  # until told to exit, or killed
""")


@pytest.mark.parametrize("ending", ["exit", "SIGKILL"])
def test_a_driver_that_goes_takes_its_work_with_it(head, ending):
    owner = Driver(head, OWNER_DRIVER)
    try:
        _driver_goes(head, owner, ending)
    finally:
        if owner.proc.poll() is None:
            owner.kill()


def _driver_goes(head, owner, ending):
    owner.expect("COUNT")
    keeper_pid, temp_pid = map(int, owner.expect("PIDS").split())
    owner.expect("READY")
    with attach_env(head):
        ray.init(address="auto", namespace="shared")
        try:
            wait_for(lambda: ray.available_resources().get("CPU", 0) == 0, "the first driver's tasks to run")
            if ending == "exit":
                owner.say("exit")
                assert owner.finish()[0] == 0
            else:
                owner.proc.send_signal(signal.SIGKILL)
                owner.finish()
            wait_for(lambda: process_ended(temp_pid), "its actor's process to end", timeout=5)
            wait_for(lambda: ray.available_resources().get("CPU") == 2, "its CPUs to come back", timeout=5)
            with pytest.raises(ValueError):
                ray.get_actor("temp")
            keeper = ray.get_actor("keeper")  # detached: it outlives its driver
            assert ray.get(keeper.add.remote()) == 2 and psutil.pid_exists(keeper_pid)
            status = cli("status", temp_dir=head.temp_dir).stdout
            assert "Keeper" in status and "keeper" in status and "detached" in status
            ray.kill(keeper)
        finally:
            ray.shutdown()


def test_status_shows_what_runs(head):
    with attach_env(head):
        ray.init(address="auto", namespace="status-test")
        try:

            @ray.remote(num_gpus=1)
            class OnGpu:
                def ping(self):
                    return 1

            a = OnGpu.options(name="on-gpu").remote()
            ray.get(a.ping.remote())
            out = cli("status", temp_dir=head.temp_dir).stdout
            job = ray.get_runtime_context().get_job_id()
        finally:
            ray.shutdown()
    assert "Resources" in out and "CPU" in out and "GPU" in out
    assert "GPU 0: actor OnGpu 'on-gpu' (pid=" in out and "GPU 1: free" in out and "GPU 2:" not in out
    assert "OnGpu" in out and "on-gpu" in out and "ALIVE" in out
    assert f"job {job}" in out and "status-test" in out
    assert head.info["log_dir"] in out


def test_bad_frames_close_that_connection_only(head):
    import socket

    import msgpack

    from greenroom.runtime import serialization, wire

    def connect():
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(DEADLINE_S)
        s.connect(head.socket)
        return s

    def closed(s):
        try:
            while s.recv(1 << 16):
                pass
        except ConnectionResetError:
            pass
        return True

    s = connect()  # garbage
    s.sendall(b"\xc1" * 64)
    assert closed(s)
    s = connect()  # the wrong protocol version: told why, then closed
    s.sendall(serialization.pack(wire.Attach(wire.PROTOCOL_VERSION + 1, os.getpid(), None, [], "driver")))
    reply = msgpack.unpackb(s.recv(1 << 16), raw=False)
    assert reply[-1] == wire.REFUSED and "protocol version" in reply[0]
    assert closed(s)
    s = connect()  # oversized: a frame larger than a client may send
    s.sendall(b"\xc6" + (100 << 20).to_bytes(4, "big"))
    try:
        s.sendall(b"\0" * (65 << 20))
    except (BrokenPipeError, ConnectionResetError):
        pass
    assert closed(s)
    s = connect()  # truncated, then gone
    s.sendall(serialization.pack(wire.Attach(wire.PROTOCOL_VERSION, os.getpid(), None, [], "driver"))[:5])
    s.close()
    with attach_env(head):  # the head goes on serving
        ray.init(address="auto")
        try:
            assert ray.get(ray.put(41)) == 41
        finally:
            ray.shutdown()
    with open(os.path.join(head.info["log_dir"], "head.out")) as f:
        log = f.read()
    assert "a bad message" in log and "over 64 MiB" in log


def test_head_killed_fails_pending_gets_not_hangs():
    h = Head("--num-cpus", "1")
    try:
        with attach_env(h):
            ray.init(address="auto")

            @ray.remote
            def forever():
                import time

                time.sleep(3600)

            ref = forever.remote()
            wait_for(lambda: ray.available_resources().get("CPU", 0) == 0, "the task to start")
            wait_for(lambda: len(h.descendants()) >= 2, "the head's zygote and the task's worker")
            started = h.descendants()
            os.kill(h.pid, signal.SIGKILL)
            with pytest.raises(exceptions.RaySystemError, match="greenroom head .* went away"):
                ray.get(ref, timeout=DEADLINE_S)
            with pytest.raises(exceptions.RaySystemError, match="went away"):
                ray.put(1)
            ray.shutdown()
            wait_for(lambda: process_ended(h.pid), "the head to end")
            with pytest.raises(ConnectionError, match="greenroom start --head"):
                ray.init(address="auto")
        wait_for(lambda: all(process_ended(p.pid) for p in started), "the head's zygote and workers to die with it")
    finally:
        ray.shutdown()
        h.stop()


def _http_status(url: str) -> int:
    import urllib.error
    import urllib.request

    try:
        with urllib.request.urlopen(url, timeout=DEADLINE_S) as r:
            return r.status
    except urllib.error.HTTPError as e:
        return e.code


def test_head_serves_the_dashboard_with_a_token():
    h = Head("--num-cpus", "1", "--dashboard")
    try:
        url = h.info["dashboard_url"]
        assert url.startswith("http://127.0.0.1:") and "?token=" in url and url in h.started.stdout
        assert _http_status(url) == 200
        assert _http_status(url.split("?")[0]) == 403
        assert _http_status(url.split("?")[0] + "?token=wrong") == 403
    finally:
        h.stop()


def test_dashboard_command_serves_the_running_head(head):
    proc = subprocess.Popen([sys.executable, "-m", "greenroom", "dashboard", "--temp-dir", head.temp_dir],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip
    try:
        line = proc.stdout.readline()
        assert line.startswith("greenroom dashboard: http://127.0.0.1:"), (line, proc.stderr.read())
        url = line.split(": ", 1)[1].strip()
        assert _http_status(url) == 200 and _http_status(url.split("?")[0]) == 403
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=DEADLINE_S) == 0


def test_state_api_from_an_attached_driver(attached):
    from greenroom.util.state import list_actors, list_tasks, summarize_tasks

    @ray.remote
    class Named:
        def pid(self):
            return os.getpid()

    @ray.remote
    def step():
        return 1

    a = Named.options(name="state-seen").remote()
    pid = ray.get(a.pid.remote())
    ray.get(step.remote())
    rows = list_actors(filters=[("name", "=", "state-seen")])
    assert [(r.state, r.pid, r["class_name"]) for r in rows] == [("ALIVE", pid, "Named")]
    assert any(t.name.endswith("step") and t.state == "FINISHED" for t in list_tasks(raise_on_missing_output=False))
    assert summarize_tasks()["cluster"]["summary"]
    ray.kill(a)
    wait_for(lambda: list_actors(filters=[("name", "=", "state-seen")])[0].state == "DEAD", "the actor to be DEAD")
