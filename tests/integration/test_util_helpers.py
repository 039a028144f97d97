"""greenroom.util's helpers with real workers: as_completed, map_unordered (with backpressure),
list_named_actors and get_node_ip_address."""

from __future__ import annotations

import ipaddress

import pytest

import greenroom as ray
from greenroom.util import as_completed, get_node_ip_address, list_named_actors, map_unordered
from signal_helper import Signal

DEADLINE_S = 20.0


@ray.remote
def echo(x, gate=None):
    if gate is not None:
        ray.get(gate[0], timeout=DEADLINE_S)
    return x


@ray.remote
def fail(x):
    raise KeyError(x)


@ray.remote
class Named:
    def names(self, all_namespaces):
        return list_named_actors(all_namespaces)


def test_as_completed_yields_ready_results_first(gr):
    """Ready results come before a blocked one; every result comes once; batches of chunk_size."""
    gate = Signal()
    refs = [echo.remote("slow", [gate.ref])] + [echo.remote(i) for i in range(5)]
    results = as_completed(refs, chunk_size=1)
    first = [next(results) for _ in range(5)]
    assert sorted(first) == [0, 1, 2, 3, 4]
    gate.send()
    assert list(results) == ["slow"]
    refs = [echo.remote(i) for i in range(3)]
    assert sorted(as_completed(refs, yield_obj_refs=True), key=lambda r: r.hex()) == sorted(
        refs, key=lambda r: r.hex()
    )
    with pytest.raises(KeyError):
        list(as_completed([fail.remote(1)]))
    with pytest.raises(ValueError, match="chunk_size"):
        as_completed(refs, chunk_size=0)
    with pytest.raises(ValueError, match="num_returns"):
        as_completed(refs, num_returns=1)


def test_map_unordered_bounds_pending_tasks(gr):
    """map_unordered submits lazily, with at most backpressure_size tasks pending."""
    submitted = []

    def items():
        for i in range(12):
            submitted.append(i)
            yield i

    results = map_unordered(echo, items(), backpressure_size=4, chunk_size=2)
    assert submitted == []  # nothing runs until the iterator is consumed
    first = next(results)
    assert len(submitted) == 4 and first in range(4)
    assert sorted([first, *results]) == list(range(12))
    assert sorted(map_unordered(echo, range(5), backpressure_size=None)) == list(range(5))
    with pytest.raises(TypeError, match="remote function"):
        map_unordered(lambda x: x, [1])
    with pytest.raises(ValueError, match="backpressure_size"):
        map_unordered(echo, [1], backpressure_size=0)


def test_list_named_actors(gr):
    """Names in the job's namespace, or {name, namespace} dicts for all; the same inside an actor."""
    mine = Named.options(name="mine").remote()
    theirs = Named.options(name="theirs", namespace="elsewhere").remote()
    unnamed = Named.remote()  # not listed
    assert list_named_actors() == ["mine"]
    everything = sorted(list_named_actors(all_namespaces=True), key=lambda d: d["name"])
    assert [d["name"] for d in everything] == ["mine", "theirs"]
    assert everything[1]["namespace"] == "elsewhere"
    assert sorted(d["name"] for d in ray.get(mine.names.remote(True), timeout=DEADLINE_S)) == [
        "mine",
        "theirs",
    ]
    ray.kill(mine)
    assert list_named_actors() == []
    assert [d["name"] for d in list_named_actors(all_namespaces=True)] == ["theirs"]
    del theirs, unnamed


def test_get_node_ip_address(gr):
    """An IPv4 address of this machine, the same in a task."""
    ip = get_node_ip_address()
    ipaddress.IPv4Address(ip)
    assert ray.get(ray.remote(lambda: get_node_ip_address()).remote(), timeout=DEADLINE_S) == ip
