"""The DAG's pure part, without processes: the graph walk, input resolution, and the order of
calls, using stand-in targets whose ``.remote`` records calls instead of submitting them."""

from __future__ import annotations

import pytest

from greenroom.dag.class_node import ClassMethodNode, ClassNode
from greenroom.dag.dag_node import topological
from greenroom.dag.function_node import FunctionNode
from greenroom.dag.input_node import DAGInputData, InputNode
from greenroom.dag.output_node import MultiOutputNode


class FakeFunction:
    """Stands for a RemoteFunction: ``remote`` computes at once and logs the call."""

    def __init__(self, name, fn, log):
        self._name, self.fn, self.log = name, fn, log

    def remote(self, *args, **kwargs):
        self.log.append((self._name, args, kwargs))
        return self.fn(*args, **kwargs)


class FakeMethod:
    def __init__(self, handle, name):
        self.handle, self.name = handle, name

    def options(self, **options):
        self.handle.log.append(("options", self.name, options))
        return self

    def remote(self, *args):
        self.handle.log.append((self.handle.tag, self.name, args))
        return getattr(self.handle, "do_" + self.name)(*args)


class FakeHandle:
    def __init__(self, tag, log, start):
        self.tag, self.log, self.value = tag, log, start

    def __getattr__(self, name):
        return FakeMethod(self, name)

    def do_inc(self, x):
        self.value += x
        return self.value

    def do_get(self):
        return self.value


class FakeActorClass:
    _name = "Fake"
    _methods = {"inc": 1, "get": 1}

    def __init__(self, log):
        self.log, self.made = log, 0

    def remote(self, start):
        self.made += 1
        return FakeHandle(f"actor{self.made}", self.log, start)


def test_each_node_runs_once_per_execute_children_first():
    """A diamond runs its shared node once, every node after the nodes it needs."""
    log = []
    double = FakeFunction("double", lambda x: 2 * x, log)
    add = FakeFunction("add", lambda x, y: x + y, log)
    with InputNode() as inp:
        shared = FunctionNode(double, (inp,), {})
        dag = FunctionNode(add, (FunctionNode(add, (shared, 1), {}), [shared][0]), {})
    assert dag.execute(5) == 21
    assert [name for name, *_ in log] == ["double", "add", "add"]
    log.clear()
    assert dag.execute(1) == 5 and len(log) == 3


def test_nodes_nested_in_arguments_are_resolved():
    """Nodes inside lists, tuples and dicts become their results; other values pass as they are."""
    log = []
    ident = FakeFunction("ident", lambda *a, **k: (a, k), log)
    one = FakeFunction("one", lambda: 1, log)
    node = FunctionNode(one, (), {})
    dag = FunctionNode(ident, ([node, 2], (node,)), {"d": {"k": node}, "s": "text"})
    assert dag.execute() == (([1, 2], (1,)), {"d": {"k": 1}, "s": "text"})
    assert [name for name, *_ in log] == ["one", "ident"]


def test_input_resolution_rules():
    """One positional argument is the input itself; otherwise [i] is positional, [key]/.key keyword."""
    log = []
    ident = FakeFunction("ident", lambda *a: a, log)
    with InputNode() as inp:
        whole = FunctionNode(ident, (inp,), {})
        parts = FunctionNode(ident, (inp[0], inp[-1], inp.k, inp["k"]), {})
    assert whole.execute([1, 2]) == ([1, 2],)
    assert isinstance(whole.execute(1, 2), tuple) and isinstance(whole.execute(1, 2)[0], DAGInputData)
    assert parts.execute(1, 2, k=3) == (1, 2, 3, 3)
    with pytest.raises(KeyError, match="keyword arguments"):
        parts.execute(1, 2)


def test_method_calls_on_an_actor_node_run_in_bind_order():
    """Calls bound on one actor node depend on the call bound before; the actor is made per execute."""
    log = []
    cls = FakeActorClass(log)
    node = ClassNode(cls, (10,), {})
    node.inc.bind(1)
    node.inc.options(name="second").bind(2)
    dag = node.get.bind()
    assert isinstance(dag, ClassMethodNode)
    assert dag.execute() == 13
    assert log == [("actor1", "inc", (1,)), ("options", "inc", {"name": "second"}), ("actor1", "inc", (2,)),
                   ("actor1", "get", ())]  # fmt: skip
    assert dag.execute() == 13 and cls.made == 2


def test_multi_output_and_deep_chains():
    """MultiOutputNode gathers results; a chain of 5000 nodes needs no deep recursion."""
    log = []
    inc = FakeFunction("inc", lambda x: x + 1, log)
    with InputNode() as inp:
        node = inp
        for _ in range(5000):
            node = FunctionNode(inc, (node,), {})
        both = MultiOutputNode([node, inp])
    assert both.execute(0) == [5000, 0]
    assert len(topological(both)) == 5002
    with pytest.raises(TypeError):
        MultiOutputNode(node)
