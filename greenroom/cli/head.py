"""The head: a node that lives in a process of its own, that drivers attach to.

``greenroom start --head`` runs ``serve()`` (detached, as ``python -m
greenroom.cli.head``, or in the foreground with ``--block``). The head is the
same ``Node`` an embedded ``init()`` starts, with a driver runtime of its own
(job 1), plus a Unix socket for attached drivers
(node_clients.py). Workers' output goes to a size-capped, rotated log in the
head's log directory, and to the driver whose work printed it.
"""

from __future__ import annotations

import logging
import logging.handlers
import os
import signal
import sys
import threading
import time
from typing import Any

from greenroom.runtime import head_files, state
from greenroom.runtime.node_clients import task_owner

LOG_MAX_BYTES = 16 << 20
LOG_BACKUPS = 3


class OutputRouter:
    """Workers' lines: to the rotated log, and to the attached driver that owns the work."""

    def __init__(self, node: Any, log_dir: str) -> None:
        self.node = node
        self.log = logging.handlers.RotatingFileHandler(
            os.path.join(log_dir, "workers.log"), maxBytes=LOG_MAX_BYTES, backupCount=LOG_BACKUPS
        )

    def __call__(self, stream: Any, pid: int | None, lines: list[bytes]) -> None:
        text = [line.decode(errors="replace") for line in lines]
        name = "err" if stream is sys.stderr else "out"
        for line in text:
            self.log.emit(logging.makeLogRecord({"msg": f"(pid={pid} {name}) {line}", "levelno": logging.INFO}))
        owner = self._owner(pid)
        if owner is None or not self.node.clients.send_output(owner, 2 if name == "err" else 1, pid, text):
            stream.write("".join(f"(pid={pid}) {line}\n" for line in text))
            stream.flush()

    def _owner(self, pid: int | None) -> int | None:
        """The attached driver whose work runs in worker ``pid``, following nested work up."""
        w = self.node.pool.by_pid.get(pid)
        for _ in range(16):
            if w is None:
                return None
            if w.task is not None:
                owner = task_owner(w.task.spec.task_id)
            elif w.actor is not None:
                owner = w.actor.owner
            else:
                return None
            if owner in self.node.clients.conns:
                return owner
            w = self.node.pool.workers.get(owner)
        return None

    def close(self) -> None:
        self.log.close()


def serve(options: dict[str, Any], temp_dir: str | None = None, ready: Any = None) -> int:
    """Run a head until SIGTERM or SIGINT. ``options``: init()'s keyword arguments.
    ``ready(info)`` is called once drivers can attach. Returns the exit status."""
    import greenroom

    root = head_files.temp_root(temp_dir)
    head_files.ensure_private_dir(root)
    running = head_files.read_info(root)
    if running is not None:
        print(f"greenroom: a head is already running (pid {running['pid']}, {running['socket']}); "
              "stop it with `greenroom stop`", file=sys.stderr)  # fmt: skip
        return 1
    log_dir = os.path.join(root, "logs")
    os.makedirs(log_dir, mode=0o700, exist_ok=True)
    sock = os.path.join(root, head_files.SOCKET_NAME)
    if os.path.exists(sock):  # left by a head that was killed
        os.unlink(sock)
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    dashboard_port = options.pop("dashboard_port", None)
    greenroom.init(namespace="default", **options)
    router = board = None
    try:
        node = state.current().node
        router = OutputRouter(node, log_dir)
        node.pool.emit = router
        node.listen(sock)
        info = {"pid": os.getpid(), "socket": sock, "log_dir": log_dir, "temp_dir": root,
                "started": time.time(), "resources": greenroom.cluster_resources()}  # fmt: skip
        if dashboard_port is not None:
            from greenroom.dashboard import start_dashboard

            board = start_dashboard(port=dashboard_port, log_dir=log_dir)
            info["dashboard_url"] = board.url  # head.json is 0600: the token stays this user's
        head_files.write_info(root, info)
        if ready is not None:
            ready(info)
        stop.wait()
    finally:
        head_files.remove_info(root, os.getpid())
        if board is not None:
            board.stop()
        greenroom.shutdown()
        if router is not None:
            router.close()
    return 0


def main() -> None:
    import json

    options = json.loads(sys.argv[1]) if len(sys.argv) > 1 else {}
    temp_dir = sys.argv[2] if len(sys.argv) > 2 else None
    try:
        code = serve(options, temp_dir)
    except (ValueError, TypeError, PermissionError) as e:  # bad resources, a temp dir not ours
        print(f"greenroom: {e}", file=sys.stderr)
        code = 2
    sys.exit(code)


if __name__ == "__main__":
    main()
