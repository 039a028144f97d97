"""Where a head lives on disk, and how a driver finds it.

Everything sits in one directory of this user's, mode 0700 (default
``/tmp/greenroom-<uid>``, or ``$GREENROOM_TEMP_DIR``): the socket
``greenroom-head.sock`` (0600), ``head.json`` (pid, socket, log directory,
dashboard) and ``logs/``. Only the user who started the head can attach.
"""

from __future__ import annotations

import json
import os
import stat
from typing import Any

SOCKET_NAME = "greenroom-head.sock"
INFO_NAME = "head.json"
ENV_TEMP_DIR = "GREENROOM_TEMP_DIR"
ENV_ADDRESS = "GREENROOM_ADDRESS"


def temp_root(override: str | None = None) -> str:
    return override or os.environ.get(ENV_TEMP_DIR) or f"/tmp/greenroom-{os.getuid()}"


def ensure_private_dir(path: str) -> None:
    """Create ``path`` 0700, or check that an existing one is ours and make it 0700."""
    os.makedirs(path, mode=0o700, exist_ok=True)
    info = os.lstat(path)
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid():
        raise PermissionError(f"{path} is not a directory owned by this user; choose another with --temp-dir")
    if stat.S_IMODE(info.st_mode) != 0o700:
        os.chmod(path, 0o700)


def read_info(root: str) -> dict[str, Any] | None:
    """The running head's head.json in ``root``, or None when there is none or its process is gone."""
    try:
        with open(os.path.join(root, INFO_NAME)) as f:
            info = json.load(f)
    except (OSError, ValueError):
        return None
    if not pid_alive(info.get("pid")):
        return None
    return info


def write_info(root: str, info: dict[str, Any]) -> None:
    path = os.path.join(root, INFO_NAME)
    tmp = path + ".tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(info, f, indent=1)
    os.replace(tmp, path)


def remove_info(root: str, pid: int) -> None:
    """Remove head.json and the socket, if they are still this head's."""
    path = os.path.join(root, INFO_NAME)
    try:
        with open(path) as f:
            if json.load(f).get("pid") != pid:
                return
    except (OSError, ValueError):
        return
    for name in (INFO_NAME, SOCKET_NAME):
        try:
            os.unlink(os.path.join(root, name))
        except FileNotFoundError:
            pass


def pid_alive(pid: Any) -> bool:
    if not isinstance(pid, int) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie (a head killed, not yet reaped by whoever started it) is gone
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return True


def env_address() -> str | None:
    """$GREENROOM_ADDRESS: the head a plain init() attaches to (before $RAY_ADDRESS)."""
    return os.environ.get(ENV_ADDRESS) or None


def resolve(address: str | None) -> str | None:
    """The socket path a driver should attach to, or None for an embedded node.

    ``address``: None (then $GREENROOM_ADDRESS, or $RAY_ADDRESS when it names a
    greenroom head), "local", "auto" or a socket path. Raises ConnectionError
    for "auto" with no head running.
    """
    if address is None:
        address = env_address()
        ray_address = os.environ.get("RAY_ADDRESS")
        if address is None and ray_address and _names_greenroom_head(ray_address):
            address = ray_address
    if address in (None, "local"):
        return None
    if address == "auto":
        root = temp_root()
        info = read_info(root)
        if info is None:
            raise ConnectionError(
                f"init(address='auto'): no greenroom head is running (looked in {root}). Start one with "
                "`greenroom start --head`, or call init() without an address to start greenroom in this process"
            )
        return info["socket"]
    return address


def _names_greenroom_head(address: str) -> bool:
    if address == "auto":
        return read_info(temp_root()) is not None
    try:
        return stat.S_ISSOCK(os.stat(address).st_mode)
    except OSError:
        return False


def is_socket_address(address: str) -> bool:
    """Whether ``address`` is written as a path (a greenroom head's socket)."""
    return address.startswith(("/", "./", "../", "~")) or address.endswith(".sock")
