"""Which of a trial's checkpoints to delete: ``CheckpointConfig``'s keep rule, pure.

A trial keeps at most ``num_to_keep`` checkpoints: the best by
``checkpoint_score_attribute`` (in ``checkpoint_score_order``) if one is
given, else the newest. The latest is never deleted, whatever its score:
a restarted trial resumes from it.
"""

from __future__ import annotations

from collections.abc import Sequence

from greenroom.tune.experiment.trial import lookup

Kept = tuple[str, dict]  # (checkpoint path, the result it was taken at)


def checkpoints_to_delete(
    kept: Sequence[Kept],
    num_to_keep: int | None,
    score_attribute: str | None = None,
    score_order: str = "max",
) -> list[Kept]:
    """The checkpoints of ``kept`` (oldest first) to delete so that ``num_to_keep`` remain.

    Args:
        kept: the trial's checkpoints, oldest first, each with its result.
        num_to_keep: how many to keep; None or 0 keeps all.
        score_attribute: the result key to rank by (nested with '/'); a missing value counts as 0.
            None deletes the oldest first.
        score_order: "max" keeps the highest scores, "min" the lowest.
    Returns:
        The entries of ``kept`` to delete, in the order they were chosen.
    """
    if not num_to_keep:
        return []
    survivors = list(kept)
    doomed: list[Kept] = []
    sign = 1 if score_order == "max" else -1
    while len(survivors) > num_to_keep:
        candidates = survivors[:-1]  # never the latest
        if score_attribute:
            victim = min(candidates, key=lambda c: sign * (lookup(c[1], score_attribute) or 0))
        else:
            victim = candidates[0]
        survivors.remove(victim)
        doomed.append(victim)
    return doomed


class CheckpointBook:
    """Each trial's kept checkpoints, oldest first; ``add`` says which to delete now."""

    def __init__(self) -> None:
        self._kept: dict[str, list[Kept]] = {}

    def add(self, trial_id: str, path: str, result: dict, keep: object) -> tuple[str, ...]:
        """Record checkpoint ``path`` of ``trial_id`` taken at ``result``.

        Args:
            keep: a ``CheckpointConfig`` (``num_to_keep``, ``checkpoint_score_attribute``/order) or None.
        Returns:
            The paths to delete so that at most ``num_to_keep`` remain (none without a limit).
        """
        num_to_keep = getattr(keep, "num_to_keep", None)
        if not num_to_keep:
            return ()
        kept = self._kept.setdefault(trial_id, [])
        kept.append((path, result))
        attribute = getattr(keep, "checkpoint_score_attribute", None)
        doomed = checkpoints_to_delete(kept, num_to_keep, attribute, getattr(keep, "checkpoint_score_order", "max"))
        for entry in doomed:
            kept.remove(entry)
        return tuple(p for p, _ in doomed)
