"""Cancelling actor tasks: an async call's coroutine is cancelled; a sync call polls is_canceled()."""

import asyncio
import time

import greenroom as ray

ray.init(num_cpus=2)


@ray.remote
class AsyncActor:
    def __init__(self):
        self.started = asyncio.Event()
        self.saw_cancel = False

    async def f(self):
        self.started.set()
        try:
            await asyncio.sleep(5)
        except asyncio.CancelledError:
            self.saw_cancel = True
            raise

    async def wait_started(self):
        await self.started.wait()

    async def cancelled(self):
        return self.saw_cancel


actor = AsyncActor.remote()
ref = actor.f.remote()
# An async actor serves other calls while f awaits: wait until f runs, so the cancel reaches its
# coroutine (a call cancelled while still queued never runs at all).
ray.get(actor.wait_started.remote(), timeout=30)
ray.cancel(ref)
try:
    ray.get(ref, timeout=30)
except ray.exceptions.TaskCancelledError:
    pass
else:
    raise AssertionError("expected TaskCancelledError")
assert ray.get(actor.cancelled.remote()) is True


@ray.remote
class SyncActor:
    def f(self):
        for _ in range(50):
            if ray.get_runtime_context().is_canceled():
                return "stopped early"
            time.sleep(0.1)
        return "ran to the end"


sync_actor = SyncActor.remote()
ref = sync_actor.f.remote()
time.sleep(0.5)
ray.cancel(ref)
try:
    ray.get(ref, timeout=30)
except ray.exceptions.TaskCancelledError:
    pass
else:
    raise AssertionError("expected TaskCancelledError")

ray.shutdown()
print("ok")
