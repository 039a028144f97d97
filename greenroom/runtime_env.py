"""Ray's ``ray.runtime_env``: ``RuntimeEnv``, a dict of a job's, task's or actor's environment.

greenroom runs everything in this Python environment on this machine, so of Ray's fields
it honours ``env_vars``: ``init(runtime_env={"env_vars": {...}})`` starts every worker
with them, and a task or actor's own ``runtime_env`` may repeat them. The others (``pip``,
``conda``, ``working_dir``, ``py_modules``, ``container``...) raise ``ValueError`` where they
are given, saying what to do instead; on a Ray cluster (``init(address="ray://...")``) all
of them go to Ray.
"""

from __future__ import annotations

from typing import Any

__all__ = ["RuntimeEnv"]


class RuntimeEnv(dict):
    """A runtime environment: ``RuntimeEnv(env_vars={"OMP_NUM_THREADS": "1"})`` is the dict
    ``{"env_vars": {...}}``; fields left None are not in it."""

    def __init__(self, *, py_modules: Any = None, working_dir: Any = None, pip: Any = None, conda: Any = None,
                 container: Any = None, env_vars: dict[str, str] | None = None, **fields: Any) -> None:  # fmt: skip
        super().__init__()
        given = {"py_modules": py_modules, "working_dir": working_dir, "pip": pip, "conda": conda,
                 "container": container, "env_vars": env_vars, **fields}  # fmt: skip
        self.update({key: value for key, value in given.items() if value is not None})
