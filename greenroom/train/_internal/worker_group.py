"""A trainer's workers: one ``TrainWorker`` actor per rank, each in its own bundle of one
placement group, and waiting on them.

Rank r runs in bundle ``first_bundle + r`` and holds exactly the worker bundle
(its GPUs, so its ``CUDA_VISIBLE_DEVICES`` is set when its process starts). On
one machine every rank is on node 0 and its local rank is its world rank.

Every wait on the workers goes through ``wait_each``: the first rank whose call
raised, or whose process died, ends the wait with a ``WorkerFailure`` that
names the rank, its pid and what happened (the actor's death message names
the exit code or signal). The group is torn down by killing every actor;
their processes give back the bundles (and GPU memory) as they exit.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import greenroom as ray
from greenroom import exceptions
from greenroom.train._internal.worker import TrainWorker, WorkerInfo
from greenroom.util.scheduling_strategies import PlacementGroupSchedulingStrategy


class WorkerFailure(Exception):
    """A rank failed: its call raised (``died=False``) or its process ended (``died=True``)."""

    def __init__(
        self, rank: int, pid: int | None, message: str, died: bool, cause: BaseException | None = None
    ):
        where = f"worker rank {rank}" + (f" (pid {pid})" if pid else "")
        super().__init__(f"{where} {'died' if died else 'failed'}: {message}")
        self.rank = rank
        self.pid = pid
        self.died = died
        self.cause = cause


def _options(bundle: dict[str, float]) -> dict[str, Any]:
    options: dict[str, Any] = {"num_cpus": bundle.get("CPU", 0), "num_gpus": bundle.get("GPU", 0)}
    if bundle.get("memory"):
        options["memory"] = bundle["memory"]
    custom = {k: v for k, v in bundle.items() if k not in ("CPU", "GPU", "memory")}
    if custom:
        options["resources"] = custom
    return options


class WorkerGroup:
    """``num_workers`` TrainWorker actors in ``placement_group`` (see the module docstring)."""

    def __init__(self, placement_group: Any, first_bundle: int, worker_bundle: dict[str, float],
                 num_workers: int, base: dict[str, Any]) -> None:  # fmt: skip
        """Create the actors; ``describe()`` waits until they run. ``base``: WorkerInfo's run fields."""
        cls = ray.remote(TrainWorker)
        self.worker_bundle = dict(worker_bundle)
        self.actors = []
        self.pids: list[int | None] = [None] * num_workers
        for rank in range(num_workers):
            info = WorkerInfo(
                world_rank=rank, world_size=num_workers, local_rank=rank, local_world_size=num_workers,
                node_rank=0, **base,
            )  # fmt: skip
            strategy = PlacementGroupSchedulingStrategy(
                placement_group, placement_group_bundle_index=first_bundle + rank
            )
            self.actors.append(
                cls.options(scheduling_strategy=strategy, **_options(worker_bundle)).remote(info)
            )

    @property
    def size(self) -> int:
        return len(self.actors)

    def describe(self) -> list[dict]:
        """Wait until every worker runs; each one's pid and devices."""
        infos = self.wait_each([a.describe.remote() for a in self.actors])
        self.pids = [i["pid"] for i in infos]
        return infos

    def execute(self, fn: Callable, per_rank: Callable[[int], tuple] | None = None) -> list:
        """Run ``fn(*per_rank(rank))`` on every worker at once; their results in rank order."""
        refs = [a.execute.remote(fn, *(per_rank(r) if per_rank else ())) for r, a in enumerate(self.actors)]
        return self.wait_each(refs)

    def execute_single(self, rank: int, fn: Callable, *args: Any) -> Any:
        return self.wait_each_rank({rank: self.actors[rank].execute.remote(fn, *args)})[rank]

    def wait_each(self, refs: list) -> list:
        """The results of one call per rank (``refs[r]`` is rank r's), in rank order."""
        results = self.wait_each_rank(dict(enumerate(refs)))
        return [results[r] for r in range(len(refs))]

    def wait_each_rank(self, refs: dict[int, Any]) -> dict[int, Any]:
        out = {}
        for rank, value in self.as_ready(refs):
            out[rank] = value
        return out

    def as_ready(self, refs: dict[int, Any]) -> Iterator[tuple[int, Any]]:
        """(rank, result) for each call as it finishes; raises WorkerFailure at the first failed one."""
        pending = {ref: rank for rank, ref in refs.items()}
        while pending:
            ready, _ = ray.wait(list(pending), num_returns=1)
            for ref in ready:
                rank = pending.pop(ref)
                yield rank, self.result(rank, ref)

    def result(self, rank: int, ref: Any) -> Any:
        """``get(ref)`` for a call on rank ``rank``, failures as WorkerFailure."""
        try:
            return ray.get(ref)
        except exceptions.RayActorError as e:
            raise WorkerFailure(rank, self.pids[rank], str(e), died=True) from None
        except exceptions.RayTaskError as e:
            raise WorkerFailure(rank, self.pids[rank], str(e), died=False, cause=e) from None

    def shutdown(self) -> None:
        """Kill every worker (idempotent); their bundles come back as their processes exit."""
        for actor in self.actors:
            try:
                ray.kill(actor)
            except Exception:  # already dead, or the node is shutting down
                pass
        self.actors = []
