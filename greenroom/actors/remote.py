"""``@remote``: a function becomes a remote function, a class an actor class."""

from __future__ import annotations

from typing import Any

from greenroom.actors.actor_class import ActorClass
from greenroom.runtime.remote_function import RemoteFunction


def make_remote(target: Any, options: dict[str, Any]) -> Any:
    if isinstance(target, type):
        return ActorClass(target, options)
    if not callable(target):
        raise TypeError(f"@remote expects a function or a class, got {target!r}")
    return RemoteFunction(target, options)


def remote(*args: Any, **options: Any) -> Any:
    """Make a function a remote task (or a class an actor).

    ``@remote`` or ``@remote(num_cpus=..., num_gpus=..., memory=..., resources={...},
    num_returns=..., max_retries=..., retry_exceptions=..., max_calls=...)``.
    Options are checked here: a bad value raises TypeError or ValueError at once.
    """
    if len(args) == 1 and not options and callable(args[0]):
        return make_remote(args[0], {})
    if args:
        raise TypeError(
            "@remote takes keyword options only, e.g. @remote(num_gpus=1); "
            f"got positional arguments {args!r}"
        )
    return lambda target: make_remote(target, options)
