"""Worker processes as the node sees them: the zygote, forking, I/O, output, exits.

Runs on the node's event loop only. A worker is keyed by the environment it
was forked with: its ``CUDA_VISIBLE_DEVICES`` string ("" for CPU work) and, for
a fractional GPU, the memory caps set for it (``limits.worker_key``): work is
only ever given to a worker started for exactly its GPU ids and caps. Idle workers are reused most
recently idle first, so a warm worker stays warm. A worker is ``ready`` (may be
sent work) once its HELLO arrived with this node's protocol version, within
``wire.HELLO_DEADLINE_S`` of its fork; one that misses the deadline is killed.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
from collections.abc import Callable
from typing import Any

from greenroom.runtime import serialization, wire


def describe_exit(code: int | None) -> str:
    """'exit code 3' / 'killed by signal SIGKILL (9)', with the likely cause."""
    if code is None:
        return "exited (exit status unknown)"
    if code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        hint = {
            "SIGKILL": "killed from outside, often by the out-of-memory killer or cancel(force=True)",
            "SIGSEGV": "a segmentation fault, usually a bug in native code",
            "SIGABRT": "an abort, usually a failed assertion in native code",
            "SIGBUS": "a bus error, often a truncated memory-mapped file",
        }.get(name, "")
        return f"killed by signal {name} ({-code})" + (f": {hint}" if hint else "")
    return f"exit code {code}" + (": sys.exit() or os._exit() was called" if code != 0 else "")


# Where a worker finds which of its environment variables are runtime_env's (JSON objects), for
# get_runtime_context().runtime_env: the job's (the zygote's environment) and its work's own.
JOB_ENV_VARS = "GREENROOM_JOB_ENV_VARS"
OWN_ENV_VARS = "GREENROOM_OWN_ENV_VARS"
_ENV_KEY = "|env="  # in the key of a worker started with work's own env_vars
MAX_IDLE_WITH_ENV_VARS = 8  # idle workers kept across all such environments; the least recent go


def with_env_vars(key: str, env: dict[str, str], env_vars: Any) -> tuple[str, dict[str, str]]:
    """The (key, environment) of a worker for work with runtime_env ``env_vars`` ((name, value)
    pairs): ``key``'s worker with them set too, kept apart from workers without them."""
    if not env_vars:
        return key, env
    own = dict(env_vars)
    return f"{key}{_ENV_KEY}{sorted(own.items())!r}", {**env, **own, OWN_ENV_VARS: json.dumps(own)}


class WorkerProc(asyncio.Protocol):
    """One worker process: its socket, output pipes, and what it is doing."""

    def __init__(self, pool: WorkerPool, worker_id: int, key: str) -> None:
        self.pool = pool
        self.id = worker_id
        self.key = key  # which idle list it goes back to: the environment it was forked with
        self.pid: int | None = None
        self.transport: asyncio.Transport | None = None
        self.unpacker = serialization.stream_unpacker()
        self.functions: set[bytes] = set()  # function ids this worker has
        self.calls: dict[bytes, int] = {}
        self.task: Any = None  # the TaskRecord it runs (or will, once started)
        self.next: Any = None  # a TaskRecord sent ahead, to start when ``task`` ends
        self.started_at = 0.0  # loop time when ``task`` started, as the node saw it
        self.actor: Any = None  # the ActorRecord it hosts, for an actor's process
        self.job: Any = None  # the job its last Exec ran for, as sent (None: unknown, send it)
        self.ready = False  # its HELLO arrived: it may be sent work
        self.hello_timer: asyncio.TimerHandle | None = None
        self.lost_reason: str | None = None  # why the node ended it, when it did
        self.out_of_memory = False  # it was killed for its memory (node_memory.py): OutOfMemoryError
        self.alive = True
        self.exiting = False
        self.exit_code: asyncio.Future = pool.loop.create_future()
        self.out: dict[int, tuple[Any, bytearray]] = {}  # fd -> (stream, partial line)

    # -- asyncio.Protocol ----------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self.unpacker.feed(data)
        handle = self.pool.on_message
        decode = wire.decode
        for raw in self.unpacker:
            if not self.ready:
                self.pool.hello(self, raw)
                continue
            msg = raw
            try:
                msg = decode(raw)
                handle(self, msg)
            except Exception as e:  # a bug of ours: say so, and never strand the call
                self.pool.on_handler_error(self, msg, e)

    def connection_lost(self, exc: Exception | None) -> None:
        self.pool.on_lost(self)

    # -------------------------------------------------------------------------------
    def send(self, msg: tuple) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(serialization.pack(msg))

    def recall(self, task_id: bytes) -> None:
        """Drop a task sent ahead, if it has not started (wire.Recall). Its Exec may have carried a
        new job the worker then never takes: the next Exec says the job again."""
        self.job = None
        self.send(wire.Recall(task_id))

    def drain_output(self) -> None:
        """Forward whatever the worker printed so far (called before its result is
        delivered, so output printed by a task reaches the driver before get() returns)."""
        for fd in list(self.out):
            self._read_output(fd)

    def _read_output(self, fd: int) -> None:
        stream, partial = self.out[fd]
        while True:
            try:
                data = os.read(fd, 65536)
            except BlockingIOError:
                return
            except OSError:
                data = b""
            if not data:
                self._close_output(fd)
                return
            partial += data
            if b"\n" in partial:
                *lines, rest = partial.split(b"\n")
                partial[:] = rest
                self.pool.emit(stream, self.pid, lines)

    def _close_output(self, fd: int) -> None:
        stream, partial = self.out.pop(fd)
        if partial:
            self.pool.emit(stream, self.pid, [bytes(partial)])
        self.pool.loop.remove_reader(fd)
        os.close(fd)

    def kill(self) -> None:
        self._signal(signal.SIGKILL)

    def interrupt(self) -> None:
        """KeyboardInterrupt in the task it runs (a worker between tasks ignores it)."""
        self._signal(signal.SIGINT)

    def _signal(self, signum: int) -> None:
        if self.pid is not None and self.alive:
            try:
                os.kill(self.pid, signum)
            except ProcessLookupError:
                pass


class WorkerPool:
    """Starts workers from the zygote and tracks them; tells the node what happens."""

    def __init__(
        self,
        on_message: Callable[[WorkerProc, tuple], None],
        on_ready: Callable[[WorkerProc], None],
        on_lost: Callable[[WorkerProc], None],
        log_to_driver: bool,
        on_zygote_lost: Callable[[str], None] = lambda reason: None,
        arena: Any = None,
        on_handler_error: Callable[[WorkerProc, Any, Exception], None] = lambda w, msg, e: None,
        preload: list[str] | None = None,
        job: dict | None = None,
        env_vars: dict[str, str] | None = None,
    ) -> None:
        self.preload_modules = list(preload or [])
        self.env_vars = dict(env_vars or {})  # the job's runtime_env env_vars: every worker starts with them
        self.job = dict(job or {})
        self.on_handler_error = on_handler_error
        self.arena = arena
        self.on_zygote_lost = on_zygote_lost
        self.broken: str | None = None
        self.loop: asyncio.AbstractEventLoop | None = None
        self.on_message = on_message
        self.on_ready = on_ready
        self.on_lost = on_lost
        self.log_to_driver = log_to_driver
        self.workers: dict[int, WorkerProc] = {}
        self.by_pid: dict[int, WorkerProc] = {}
        self.idle: dict[str, list[WorkerProc]] = {}
        self._env_keys: dict[str, None] = {}  # keys of env_vars workers, least recently released first
        self._next_id = 0
        self.zygote: subprocess.Popen | None = None
        self.path: list[str] = []  # what workers have on sys.path
        self.control: socket.socket | None = None

    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        env = dict(os.environ)
        env.update(self.env_vars)  # the zygote's own, so what it loads sees them too, and so every fork
        if self.env_vars:
            env[JOB_ENV_VARS] = json.dumps(self.env_vars)
        env["PYTHONPATH"] = os.pathsep.join(p for p in sys.path if p)
        store = [self.arena.fd, self.arena.size] if self.arena is not None else None
        self.zygote = subprocess.Popen(
            [sys.executable, "-m", "greenroom.runtime.zygote", str(os.getpid()), str(theirs.fileno())],
            pass_fds=[theirs.fileno()] + ([self.arena.fd] if self.arena is not None else []),
            stdin=subprocess.DEVNULL,
            env=env,
        )
        theirs.close()
        self.control = ours
        # Workers see the driver's code: its sys.path, with its working directory on it (as Ray).
        path = list(sys.path)
        if os.getcwd() not in path and "" not in path:
            path.append(os.getcwd())
        self.path = path
        ours.send(serialization.pack(wire.Setup(path, store, self.preload_modules, self.job)))
        ours.setblocking(False)
        self.loop.add_reader(ours.fileno(), self._on_zygote)

    def acquire(self, key: str, env: dict[str, str]) -> WorkerProc:
        """An idle worker started with ``env`` (``key`` names it), or a new one (ready once forked)."""
        idle = self.idle.get(key)
        if idle:
            return idle.pop()
        return self.spawn(key, env)

    def new_id(self) -> int:
        """A process id on this node, never given to another worker or client."""
        self._next_id += 1
        return self._next_id

    def spawn(self, key: str, env: dict[str, str]) -> WorkerProc:
        """A new worker process started with ``env`` (its CUDA_VISIBLE_DEVICES, GPU memory caps),
        never a reused one (an actor's own process)."""
        if self.broken:
            raise RuntimeError(self.broken)
        w = WorkerProc(self, self.new_id(), key)
        self.workers[w.id] = w
        self._to_zygote(wire.Fork(w.id, env))
        w.hello_timer = self.loop.call_later(wire.HELLO_DEADLINE_S, self._no_hello, w)
        return w

    def preload(self, modules: list[str]) -> None:
        if self.control is not None and not self.broken:
            self._to_zygote(wire.Preload(modules))

    def add_path(self, path: list[str]) -> None:
        """Put directories on every later worker's sys.path (an attached driver's); idle
        workers, forked without them, are retired."""
        new = [p for p in path if p and p not in self.path]
        if not new or self.control is None or self.broken:
            return
        self.path += new
        self._to_zygote(wire.AddPath(new))
        for idle in self.idle.values():
            for w in idle:
                self.retire(w)
            idle.clear()

    def hello(self, w: WorkerProc, raw: Any) -> None:
        """A worker's first message must be its HELLO: work may go to it from then on."""
        if w.hello_timer is not None:
            w.hello_timer.cancel()
        if w.lost_reason:  # too late: it is being killed
            return
        version = None
        if isinstance(raw, list) and raw:
            if raw[-1] == wire.HELLO:
                version = raw[0]
            elif raw[0] == wire.HELLO and len(raw) > 1:  # protocol 2 and older put the type first
                version = raw[1]
        if version != wire.PROTOCOL_VERSION:
            said = f"protocol version {version}" if version is not None else f"no HELLO first ({raw!r:.80})"
            self._broke(
                f"a greenroom worker (pid={w.pid}) spoke {said}, but this node speaks protocol version "
                f"{wire.PROTOCOL_VERSION}: the workers import a different greenroom than the driver. "
                "Make sure one greenroom is installed for this Python (pip show greenroom; sys.path)"
            )
            w.lost_reason = f"it spoke {said}"
            w.kill()
            return
        w.ready = True
        self.on_ready(w)

    def _no_hello(self, w: WorkerProc) -> None:
        if w.alive and not w.ready:
            w.lost_reason = (
                f"it did not finish starting within {wire.HELLO_DEADLINE_S:.0f} s of its fork "
                "(the machine may be overloaded), so it was killed"
            )
            w.kill()

    def _broke(self, reason: str) -> None:
        if not self.broken:
            self.broken = reason
            self.on_zygote_lost(reason)

    def _to_zygote(self, msg: tuple) -> None:
        # The control socket is non-blocking (the loop reads it); a full buffer means
        # the zygote is busy forking: wait for it rather than drop the request.
        data = serialization.pack(msg)
        try:
            self.control.send(data)
        except BlockingIOError:
            self.control.setblocking(True)
            try:
                self.control.send(data)
            finally:
                self.control.setblocking(False)

    def release(self, w: WorkerProc) -> None:
        if w.alive and not w.exiting:
            self.idle.setdefault(w.key, []).append(w)
            if _ENV_KEY in w.key:
                self._bound_env_var_workers(w.key)

    def _bound_env_var_workers(self, key: str) -> None:
        """Each runtime_env env_vars set has workers of its own: keep at most MAX_IDLE_WITH_ENV_VARS
        of them idle, retiring the least recently used environment's first."""
        self._env_keys.pop(key, None)
        self._env_keys[key] = None  # the most recent
        for k in [k for k in self._env_keys if not self.idle.get(k)]:
            del self._env_keys[k]
        extra = sum(len(self.idle[k]) for k in self._env_keys) - MAX_IDLE_WITH_ENV_VARS
        for k in list(self._env_keys):
            if extra <= 0:
                break
            while extra > 0 and self.idle[k]:
                self.retire(self.idle[k].pop(0))
                extra -= 1
            if not self.idle[k]:
                del self.idle[k], self._env_keys[k]

    def retire(self, w: WorkerProc) -> None:
        """Ask a worker to exit (max_calls reached); its GPU memory goes with it."""
        w.exiting = True
        w.send(wire.Exit())

    def forget(self, w: WorkerProc) -> None:
        w.alive = False
        if w.hello_timer is not None:
            w.hello_timer.cancel()
        self.workers.pop(w.id, None)
        idle = self.idle.get(w.key)
        if idle and w in idle:
            idle.remove(w)

    def emit(self, stream: Any, pid: int | None, lines: list[bytes]) -> None:
        if not self.log_to_driver:
            return
        prefix = f"(pid={pid}) "
        text = "".join(prefix + line.decode(errors="replace") + "\n" for line in lines)
        try:
            stream.write(text)
            stream.flush()
        except (ValueError, OSError):  # the driver closed its stream
            pass

    def _on_zygote(self) -> None:
        try:
            data, fds, _flags, _addr = socket.recv_fds(self.control, 1 << 16, 3)
        except BlockingIOError:
            return
        except OSError:
            data, fds = b"", []
        if not data:
            self.loop.remove_reader(self.control.fileno())
            code = self.zygote.poll() if self.zygote is not None else None
            self._broke(f"greenroom's zygote process (pid={self.zygote.pid if self.zygote else '?'}) ended: {describe_exit(code)}")
            return
        msg = wire.decode(serialization.unpack(data))
        if isinstance(msg, wire.Forked):
            self._on_forked(msg.worker_id, msg.pid, fds)
        elif isinstance(msg, wire.Exited):
            w = self.by_pid.pop(msg.pid, None)
            if w is not None and not w.exit_code.done():
                w.exit_code.set_result(msg.code)

    def _on_forked(self, worker_id: int, pid: int, fds: list[int]) -> None:
        sock_fd, out_fd, err_fd = fds
        w = self.workers.get(worker_id)
        if w is None:  # forgotten while forking (shutdown)
            for fd in fds:
                os.close(fd)
            return
        w.pid = pid
        self.by_pid[pid] = w
        if w.lost_reason:  # its HELLO deadline passed before the fork was even reported
            w.kill()
        for fd, stream in ((out_fd, sys.stdout), (err_fd, sys.stderr)):
            os.set_blocking(fd, False)
            w.out[fd] = (stream, bytearray())
            self.loop.add_reader(fd, w._read_output, fd)
        sock = socket.socket(fileno=sock_fd)
        sock.setblocking(False)
        # Ready once its HELLO arrives (hello()), not when the connection is made.
        self.loop.create_task(self.loop.create_unix_connection(lambda: w, sock=sock))

    def close(self) -> None:
        """Stop every worker and the zygote, and wait for them (shutdown)."""
        for w in list(self.workers.values()):
            for fd in list(w.out):
                self.loop.remove_reader(fd)
                os.close(fd)
            w.out.clear()
            if w.transport is not None:
                w.transport.abort()
        if self.control is not None:
            self.loop.remove_reader(self.control.fileno())
            self.control.close()  # EOF: the zygote kills and reaps every worker, then exits
            self.control = None
        if self.zygote is not None:
            try:
                self.zygote.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.zygote.kill()
                self.zygote.wait()
            self.zygote = None
