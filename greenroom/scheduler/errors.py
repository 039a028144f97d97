"""Errors raised by the scheduler core."""

from __future__ import annotations

__all__ = ["Unschedulable"]


class Unschedulable(ValueError):
    """A request (task, actor or placement group) can never be satisfied here.

    Raised at submission, never later: the message names what was asked, what
    this node (or bundle) has, and what to change. Waiting would only hang.
    """
