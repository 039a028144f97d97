"""Threaded actors: a sync actor with max_concurrency runs calls on a thread pool."""

import threading
import time

import greenroom as ray

ray.init(num_cpus=2)


@ray.remote
class ThreadedActor:
    def __init__(self):
        self.lock = threading.Lock()
        self.running = 0
        self.peak = 0

    def task(self, i):
        with self.lock:
            self.running += 1
            self.peak = max(self.peak, self.running)
        print(f"I'm running in a thread: {threading.current_thread().name}")
        time.sleep(0.3)
        with self.lock:
            self.running -= 1
        return i

    def peak_concurrency(self):
        return self.peak


a = ThreadedActor.options(max_concurrency=2).remote()
assert ray.get([a.task.remote(1), a.task.remote(2)]) == [1, 2]
assert ray.get(a.peak_concurrency.remote()) == 2  # the two calls overlapped

# Without max_concurrency, a sync actor runs one call at a time.
b = ThreadedActor.remote()
ray.get([b.task.remote(i) for i in range(3)])
assert ray.get(b.peak_concurrency.remote()) == 1

ray.shutdown()
print("ok")
