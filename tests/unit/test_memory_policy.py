"""The memory monitor's decisions (runtime/memory_policy.py), without processes."""

from __future__ import annotations

import pytest

from greenroom.runtime.memory_policy import NODE_WIDE, OWN_LIMIT, Candidate, Kill, decide, mib, over_threshold

pytestmark = pytest.mark.timeout(10)

MB = 1 << 20


def worker(key, rss=None, limit=None, retriable=True, started=0.0):
    return Candidate(key, rss, limit, retriable, started)


def test_every_worker_over_its_own_limit_is_killed():
    """Two over, one under, one without a limit: the two over are killed."""
    kills = decide([worker("a", 300 * MB, 200 * MB), worker("b", 100 * MB, 200 * MB),
                    worker("c", 900 * MB), worker("d", 201 * MB, 200 * MB)], node_over=False, killing=False)  # fmt: skip
    assert kills == [Kill("a", OWN_LIMIT), Kill("d", OWN_LIMIT)]


def test_at_the_limit_is_not_over():
    assert decide([worker("a", 200 * MB, 200 * MB)], node_over=False, killing=False) == []


def test_node_under_threshold_kills_nothing():
    assert decide([worker("a", None), worker("b", None)], node_over=False, killing=False) == []


def test_node_over_threshold_kills_the_newest_retriable_worker():
    """Retriable before not, newest among them, as Ray chooses."""
    candidates = [worker("old", retriable=True, started=1.0), worker("new", retriable=True, started=5.0),
                  worker("newest-final", retriable=False, started=9.0)]  # fmt: skip
    assert decide(candidates, node_over=True, killing=False) == [Kill("new", NODE_WIDE)]


def test_without_retriable_work_the_newest_goes():
    candidates = [worker("a", retriable=False, started=1.0), worker("b", retriable=False, started=2.0)]
    assert decide(candidates, node_over=True, killing=False) == [Kill("b", NODE_WIDE)]


def test_one_node_wide_kill_at_a_time():
    """While an earlier victim has not ended, no second one."""
    assert decide([worker("a"), worker("b")], node_over=True, killing=True) == []


def test_an_own_limit_kill_stands_in_for_the_node_wide_one():
    """A look that kills a worker over its limit frees memory already: no extra node-wide victim."""
    candidates = [worker("over", 300 * MB, 200 * MB, started=1.0), worker("new", started=9.0)]
    assert decide(candidates, node_over=True, killing=False) == [Kill("over", OWN_LIMIT)]


def test_nothing_to_kill_when_nothing_runs():
    assert decide([], node_over=True, killing=False) == []


def test_threshold_and_sizes():
    assert over_threshold(96, 100, 0.95) and not over_threshold(95, 100, 0.95) and not over_threshold(1, 0, 0.5)
    assert mib(412 * MB) == "412.0 MiB" and mib(5 << 29) == "2.50 GiB" and mib(None) == "an unknown amount"
