"""The zygote: a pre-imported, single-threaded process that forks workers.

A new worker costs one fork (milliseconds), not an interpreter start. The
zygote never runs or unpickles user code, and starts no thread, so a forked
child is clean: it sets ``CUDA_VISIBLE_DEVICES`` and its other environment
(a fractional GPU's memory caps) before any user code is imported, then
becomes a worker.

Lifetime: the zygote dies with the node. It asks the kernel to SIGKILL it
when its parent dies (PR_SET_PDEATHSIG), exits on EOF of its control socket,
and each worker does the same towards the zygote, so a SIGKILLed driver leaves
no process behind.

Protocol (SOCK_SEQPACKET, one message per packet; see wire.py): the node sends
SETUP once (with the greenroom modules to import before any fork), then FORK per
worker (and PRELOAD to import more of greenroom, e.g. Tune, once for all later
workers); the zygote answers FORKED with the node's
end of the worker's socket and the read ends of its stdout and stderr pipes,
and EXITED with each reaped child's exit code (negative: killed by signal).
"""

from __future__ import annotations

import ctypes
import importlib
import os
import selectors
import signal
import socket
import sys
from typing import Any

from greenroom.runtime import serialization, wire
from greenroom.runtime.worker_limits import loaded_thread_pools

_PR_SET_PDEATHSIG = 1


def die_with_parent(expected_parent: int) -> None:
    """SIGKILL this process when its parent goes; exit now if it already went."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):  # not Linux: rely on socket EOF alone
        pass
    if os.getppid() != expected_parent:
        os._exit(1)


def _exit_code(status: int) -> int:
    if os.WIFSIGNALED(status):
        return -os.WTERMSIG(status)
    return os.WEXITSTATUS(status)


class Zygote:
    def __init__(self, control: socket.socket, arena: Any = None, job: dict | None = None) -> None:
        self.control = control
        self.job = job or {}  # namespace, job_id, node_id: what get_runtime_context() says in workers
        self.arena = arena  # the node's shared memory, inherited by every worker
        # Whether a library with a native thread pool is loaded here (and so in every fork):
        # a worker then resizes it before its first task (worker_limits.py).
        self.pools_loaded = loaded_thread_pools()
        self.selector = selectors.DefaultSelector()
        self.wake_r, self.wake_w = os.pipe()
        os.set_blocking(self.wake_r, False)
        os.set_blocking(self.wake_w, False)
        self.children: set[int] = set()

    def serve(self) -> None:
        signal.set_wakeup_fd(self.wake_w)
        signal.signal(signal.SIGCHLD, lambda *_: None)
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the driver's to handle
        self.selector.register(self.control, selectors.EVENT_READ)
        self.selector.register(self.wake_r, selectors.EVENT_READ)
        while True:
            for key, _ in self.selector.select():
                if key.fileobj is self.control:
                    try:
                        data = self.control.recv(1 << 20)
                    except OSError:  # reset: the node is gone, as for EOF
                        data = b""
                    if not data:
                        self._shutdown()
                        return
                    self._handle(wire.decode(serialization.unpack(data)))
                else:
                    try:
                        os.read(self.wake_r, 4096)
                    except BlockingIOError:
                        pass
            self._reap()

    def _handle(self, msg: Any) -> None:
        if type(msg) is wire.Fork:
            self._fork(msg.worker_id, msg.env)
        elif type(msg) is wire.Preload:
            preload(msg.modules)
            self.pools_loaded = loaded_thread_pools()

    def _reap(self) -> None:
        while self.children:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            self.children.discard(pid)
            self._send(wire.Exited(pid, _exit_code(status)))

    def _send(self, msg: tuple, fds: list[int] | None = None) -> None:
        data = serialization.pack(msg)
        try:
            if fds:
                socket.send_fds(self.control, [data], fds)
            else:
                self.control.send(data)
        except OSError:  # the node is gone; EOF will end us
            pass

    def _fork(self, worker_id: int, env: dict[str, str]) -> None:
        node_end, worker_end = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        out_r, out_w = os.pipe()
        err_r, err_w = os.pipe()
        me = os.getpid()
        pid = os.fork()
        if pid == 0:
            try:
                self._become_worker(me, worker_id, env, worker_end, (node_end, out_r, err_r), out_w, err_w)
            finally:
                os._exit(70)
        self.children.add(pid)
        worker_end.close()
        os.close(out_w)
        os.close(err_w)
        self._send(wire.Forked(worker_id, pid), [node_end.fileno(), out_r, err_r])
        node_end.close()
        os.close(out_r)
        os.close(err_r)

    def _become_worker(self, zygote_pid, worker_id, env, sock, to_close, out_w, err_w) -> None:
        die_with_parent(zygote_pid)
        signal.set_wakeup_fd(-1)
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.default_int_handler)
        self.selector.close()
        self.control.close()
        os.close(self.wake_r)
        os.close(self.wake_w)
        to_close[0].close()
        os.close(to_close[1])
        os.close(to_close[2])
        os.dup2(out_w, 1)
        os.dup2(err_w, 2)
        os.close(out_w)
        os.close(err_w)
        os.environ.update(env)
        sys.stdout.reconfigure(line_buffering=True)
        sys.stderr.reconfigure(line_buffering=True)
        sys.stdout = TrackedStream(sys.stdout)
        sys.stderr = TrackedStream(sys.stderr)
        from greenroom.runtime import worker

        code = worker.main(sock, worker_id, self.arena, self.job, self.pools_loaded)
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)

    def _shutdown(self) -> None:
        for pid in list(self.children):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        for pid in list(self.children):
            try:
                os.waitpid(pid, 0)
            except ChildProcessError:
                pass


class TrackedStream:
    """A worker's stdout/stderr that remembers it was written to, so a result is
    only held back to forward output when there is some (see WorkerProc.drain_output)."""

    def __init__(self, stream) -> None:
        self._stream = stream
        self.written = False

    def write(self, text: str) -> int:
        self.written = True
        return self._stream.write(text)

    def __getattr__(self, name: str):
        return getattr(self._stream, name)


def main() -> None:
    parent, control_fd = int(sys.argv[1]), int(sys.argv[2])
    die_with_parent(parent)
    # Our own process group: a Ctrl-C at the driver's terminal is the driver's
    # to handle, not every worker's.
    os.setpgrp()
    control = socket.socket(fileno=control_fd)
    setup = wire.decode(serialization.unpack(control.recv(1 << 20)))
    sys.path[:] = setup.path
    # Import what every worker needs now, once, so each fork starts warm: the worker,
    # and what the node names (the package's public face, which user code imports).
    import greenroom.runtime.worker  # noqa: F401
    from greenroom.runtime.object_store import Arena

    preload(setup.preload)
    arena = Arena(*setup.store) if setup.store else None
    Zygote(control, arena, setup.job).serve()


def preload(modules: list[str]) -> None:
    """Import greenroom modules so every later fork has them (only greenroom's own: the
    zygote never runs user code)."""
    for name in modules:
        if name == "greenroom" or name.startswith("greenroom."):
            try:
                importlib.import_module(name)
            except Exception:  # a worker will import it (and report any error) itself
                pass


if __name__ == "__main__":
    main()
