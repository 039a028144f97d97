"""ray.util.queue.Queue: pass work to tasks; Empty after a timeout; batches; actor_options."""

import greenroom as ray
from greenroom.util.queue import Empty, Queue

ray.init(num_cpus=2)

# You can pass this object around to different tasks/actors
queue = Queue(maxsize=100)


@ray.remote
def consumer(id, queue):
    got = []
    try:
        while True:
            next_item = queue.get(block=True, timeout=1)
            print(f"consumer {id} got work {next_item}")
            got.append(next_item)
    except Empty:
        pass
    return got


[queue.put(i) for i in range(10)]
consumers = [consumer.remote(id, queue) for id in range(2)]
assert sorted(sum(ray.get(consumers), [])) == list(range(10))
assert queue.empty()

# Like queue.Queue: FIFO, qsize, nowait and batch variants.
q = Queue()
items = list(range(10))
for item in items:
    q.put(item)
assert q.qsize() == 10
for item in items:
    assert item == q.get()
q.put_nowait_batch([1, 2, 3])
assert q.get_nowait_batch(3) == [1, 2, 3]
try:
    q.get_nowait()
except Empty:
    pass
else:
    raise AssertionError("expected Empty")

# Create Queue with the underlying actor reserving 1 CPU.
q = Queue(actor_options={"num_cpus": 1})
q.put("x")
assert q.get() == "x"

ray.shutdown()
print("ok")
