"""The DAG API (greenroom.dag, Ray's ray.dag) with real workers: functions, InputNode and its
parts, MultiOutputNode, actor class nodes and their method calls, live actors, and the
errors Ray gives for misuse."""

from __future__ import annotations

import pickle

import pytest

import greenroom as ray
from greenroom.dag import ClassMethodNode, ClassNode, FunctionNode, InputNode, MultiOutputNode

DEADLINE_S = 20.0


@ray.remote
def a(x):
    return x * 2


@ray.remote
def b(x):
    return x + 1


@ray.remote
def combine(x, y, z=0):
    return x + y + z


@ray.remote
def ask(handle):
    return ray.get(handle.get.remote(), timeout=DEADLINE_S)


@ray.remote
class Counter:
    def __init__(self, start):
        self.i = start

    def inc(self, x):
        self.i += x
        return self.i

    def get(self):
        return self.i

    def scale(self, x):
        return self.i * x

    @ray.method(num_returns=2)
    def pair(self, x):
        return x, -x


def test_function_dag_with_input(gr):
    """A diamond over one input: each node runs once per execute; execute again with new input."""
    with InputNode() as inp:
        a_node = a.bind(inp)
        d = combine.bind(a_node, b.bind(inp))
        d1 = combine.bind(d, d)
        dag = combine.bind(combine.bind(d1, d), d)
    assert isinstance(dag, FunctionNode)
    # d = 2x + x + 1; d1 = 2d; dag = (d1 + d) + d = 4d
    assert ray.get(dag.execute(2), timeout=DEADLINE_S) == 28
    assert ray.get(dag.execute(3), timeout=DEADLINE_S) == 40
    assert ray.get(combine.bind(1, 2, z=3).execute(), timeout=DEADLINE_S) == 6  # no input at all


def test_input_parts(gr):
    """inp[i], inp.key and inp["key"]: positional and keyword arguments, or the one argument's parts."""
    with InputNode() as inp:
        dag = combine.bind(inp[0], inp[1], z=inp.z)
    assert ray.get(dag.execute(1, 2, z=3), timeout=DEADLINE_S) == 6
    with InputNode() as inp:
        by_index = combine.bind(inp[0], inp[2])
        by_key = combine.bind(inp["x"], inp["y"])
    assert ray.get(by_index.execute([1, 10, 100]), timeout=DEADLINE_S) == 101
    assert ray.get(by_key.execute({"x": 5, "y": 6}), timeout=DEADLINE_S) == 11
    with pytest.raises(IndexError, match="got 2 positional"):
        by_index.execute(1, 2)
    with pytest.raises(TypeError, match="int index or str"):
        with InputNode() as inp:
            inp[(1, 2)]


def test_multi_output_node(gr):
    """MultiOutputNode([...]).execute() gives a list of refs, one per output."""
    with InputNode() as inp:
        dag = MultiOutputNode([a.bind(inp), b.bind(inp), combine.bind(a.bind(inp), 1)])
    refs = dag.execute(10)
    assert isinstance(refs, list) and ray.get(refs, timeout=DEADLINE_S) == [20, 11, 21]


def test_actor_nodes_keep_the_order_of_bound_calls(gr):
    """Method calls bound on one actor node run in bind order, even those the output does not use."""
    c1 = Counter.bind(10)
    c2 = Counter.bind(10)
    assert isinstance(c1, ClassNode)
    c1.inc.bind(2)
    c1.inc.bind(4)
    c2.inc.bind(6)
    dag = combine.bind(c1.get.bind(), c2.get.bind())
    assert isinstance(dag.get_args()[0], ClassMethodNode)
    assert ray.get(dag.execute(), timeout=DEADLINE_S) == 32
    assert ray.get(dag.execute(), timeout=DEADLINE_S) == 32  # each execute creates the actors anew


def test_actor_methods_take_the_input(gr):
    """Inputs and task results flow into actor methods; an actor node passed to a task is a handle."""
    with InputNode() as inp:
        model = Counter.bind(3)
        feature = b.bind(inp)
        dag = MultiOutputNode([model.scale.bind(feature), ask.bind(Counter.bind(7))])
    assert ray.get(dag.execute(1), timeout=DEADLINE_S) == [6, 7]
    assert ray.get(dag.execute(4), timeout=DEADLINE_S) == [15, 7]
    with InputNode() as inp:
        outputs = Counter.bind(0).pair.options(num_returns=2).bind(inp)
    first, second = outputs.execute(5)
    assert ray.get([first, second], timeout=DEADLINE_S) == [5, -5]


def test_bind_on_a_live_actor(gr):
    """handle.method.bind(...) calls that very actor on every execute."""
    live = Counter.remote(100)
    with InputNode() as inp:
        dag = live.inc.bind(inp)
    assert ray.get(dag.execute(1), timeout=DEADLINE_S) == 101
    assert ray.get(dag.execute(1), timeout=DEADLINE_S) == 102
    assert ray.get(live.get.remote(), timeout=DEADLINE_S) == 102


def test_misuse_is_refused_as_in_ray(gr):
    """The errors Ray gives for misusing nodes, each with a message that says what to do."""
    with pytest.raises(AttributeError, match=r"\.remote\(\) cannot be used"):
        a.bind(1).remote()
    with pytest.raises(AttributeError, match=r"\.remote\(\) cannot be used"):
        Counter.bind(1).remote()
    with pytest.raises(AttributeError, match=r"\.remote\(\) cannot be used on ClassMethodNodes"):
        Counter.bind(1).get.remote()
    with pytest.raises(AttributeError, match=r"\.bind\(\) cannot be used again"):
        Counter.bind(1).bind()
    with pytest.raises(AttributeError, match="has no method 'nope'"):
        Counter.bind(1).nope
    with pytest.raises(ValueError, match="should not take any args"):
        InputNode(0)
    with pytest.raises(ValueError, match="InputNode can't be an argument"):
        with InputNode() as inp:
            Counter.bind(inp)
    with pytest.raises(ValueError, match="context manager"):
        a.bind(InputNode()).execute(1)
    with InputNode() as first:
        x = a.bind(first)
    with InputNode() as second:
        dag = combine.bind(x, a.bind(second))
    with pytest.raises(ValueError, match="only have one unique InputNode"):
        dag.execute(1)
    with pytest.raises(ValueError, match="can't be pickled"):
        pickle.dumps(a.bind(1))
