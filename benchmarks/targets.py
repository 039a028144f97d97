"""The issue's targets, and whether a run's figures meet them.

A target asks greenroom's figure for one (workload, metric) to reach a ratio
against a reference, in the suite's convention (ratio > 1: greenroom better):
``ray`` or ``pool`` (the peer's figure in the same row), another row's ``raw``
figure (``"raw_uvloop_round_trip.median"``), or ``"value"`` (greenroom's figure
itself, e.g. a bool that must be 1).
"""

from __future__ import annotations

from dataclasses import dataclass

from harness import HIGHER_IS_BETTER

RAW_UVLOOP = "raw_uvloop_round_trip.median"
REFERENCE_NAMES = {RAW_UVLOOP: "raw uvloop"}


@dataclass(frozen=True, slots=True)
class Target:
    workload: str
    metric: str
    versus: str  # "ray", "pool", "value" or "<workload>.<metric>" of a raw row
    factor: float  # the ratio greenroom must reach (for "value": the minimum value)

    def label(self, unit: str) -> str:
        """E.g. ">=3x ray", "<=1/4 ray", "<=4x raw uvloop", "<= pool", ">=1"."""
        if self.versus == "value":
            return f">={self.factor:g}"
        peer = REFERENCE_NAMES.get(self.versus, self.versus)
        higher = unit in HIGHER_IS_BETTER
        if self.factor == 1:
            return f"{'>=' if higher else '<='} {peer}"
        if higher:
            return f">={self.factor:g}x {peer}"
        return f"<=1/{self.factor:g} {peer}" if self.factor > 1 else f"<={1 / self.factor:g}x {peer}"


TARGETS = [
    Target("cold_start", "first_result", "ray", 10),
    Target("throughput", "tasks_per_s", "ray", 3),
    Target("throughput", "tasks_per_s", "pool", 1),
    Target("sleep_tasks", "tasks_per_s", "pool", 1),
    Target("round_trip", "median", "ray", 4),
    Target("round_trip", "median", RAW_UVLOOP, 1 / 4),
    Target("round_trip", "median", "pool", 1),
    Target("actor_round_trip", "median", "ray", 4),
    Target("actor_round_trip", "median", RAW_UVLOOP, 1 / 4),
    Target("actor_pipelined", "calls_per_s", "ray", 3),
    Target("async_actor_pipelined", "calls_per_s", "ray", 3),
    Target("large_objects", "get_zero_copy", "value", 1),
    Target("large_objects", "put", "ray", 1),
    Target("tune_trials", "trials_per_s", "ray", 50),
    Target("memory", "idle_rss", "ray", 5),
    Target("memory", "idle_pss", "ray", 5),
    # get and wait over many refs, ready or not, at least as fast as Ray at every size
    *(Target("scale_get_wait", f"{m}@{n}", "ray", 1)
      for m in ("get_ready", "wait_all_ready", "wait_first_ready", "wait_not_ready", "get_not_ready")
      for n in ("100", "1k", "10k", "100k")),
]  # fmt: skip


def ratio(gr: float | None, peer: float | None, unit: str) -> float | None:
    """greenroom against a peer, > 1 when greenroom is better; None when either is missing or zero."""
    if not gr or not peer:
        return None
    return round(gr / peer if unit in HIGHER_IS_BETTER else peer / gr, 3)


def check(target: Target, row: dict, rows: dict[tuple[str, str], dict]) -> bool | None:
    """Whether ``row`` meets ``target``; None when a figure it needs was not measured."""
    if target.versus == "value":
        return None if row["greenroom"] is None else row["greenroom"] >= target.factor
    if "." in target.versus:
        ref = rows.get(tuple(target.versus.split(".", 1)))
        peer = ref and ref["raw"]
    else:
        peer = row[target.versus]
    r = ratio(row["greenroom"], peer, row["unit"])
    return None if r is None else r >= target.factor


def assess(rows: list[dict]) -> None:
    """Add to each row with targets ``targets`` ({label: met?}) and ``target``: "met",
    "missed" or "n/a" (a figure it needs is missing)."""
    index = {(r["workload"], r["metric"]): r for r in rows}
    for row in rows:
        mine = [t for t in TARGETS if (t.workload, t.metric) == (row["workload"], row["metric"])]
        results = {t.label(row["unit"]): check(t, row, index) for t in mine}
        row["targets"] = results or None
        if results:
            met = results.values()
            row["target"] = "missed" if False in met else "n/a" if None in met else "met"
        else:
            row["target"] = None
