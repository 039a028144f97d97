"""Ray DAG with actors, InputNode and MultiOutputNode."""

import greenroom as ray
from greenroom.dag.input_node import InputNode
from greenroom.dag.output_node import MultiOutputNode

ray.init(num_cpus=2)


@ray.remote
class Actor:
    def __init__(self, init_value):
        self.i = init_value

    def inc(self, x):
        self.i += x

    def get(self):
        return self.i


a1 = Actor.bind(10)  # Instantiate Actor with init_value 10.
val = a1.get.bind()  # ClassMethodNode that returns value from get() from the actor created.
assert ray.get(val.execute()) == 10


@ray.remote
def combine(x, y):
    return x + y


a2 = Actor.bind(10)  # Instantiate another Actor with init_value 10.
a1.inc.bind(2)  # Call inc() on the actor created with increment of 2.
a1.inc.bind(4)  # Call inc() on the actor created with increment of 4.
a2.inc.bind(6)  # Call inc() on the actor created with increment of 6.

# Combine outputs from a1.get() and a2.get(): 10 + (10 + (2 + 4 + 6)) = 32
dag = combine.bind(a1.get.bind(), a2.get.bind())
assert ray.get(dag.execute()) == 32


@ray.remote
def a(user_input):
    return user_input * 2


@ray.remote
def b(user_input):
    return user_input + 1


@ray.remote
def c(x, y):
    return x + y


with InputNode() as dag_input:
    a_ref = a.bind(dag_input)
    b_ref = b.bind(dag_input)
    dag = c.bind(a_ref, b_ref)

assert ray.get(dag.execute(2)) == 7  # (2 * 2) + (2 + 1)
assert ray.get(dag.execute(3)) == 10  # (3 * 2) + (3 + 1)

with InputNode() as dag_input:
    dag = MultiOutputNode([a.bind(dag_input), b.bind(dag_input)])

assert ray.get(dag.execute(2)) == [4, 3]

ray.shutdown()
print("ok")
