"""Runtime context: job, node, task and actor ids, actor name, current_actor, assigned resources."""

import greenroom as ray

ray.init(num_cpus=2)

ctx = ray.get_runtime_context()
job_id = ctx.get_job_id()
node_id = ctx.get_node_id()
assert isinstance(job_id, str) and isinstance(node_id, str)


@ray.remote
def get_task_id():
    ctx = ray.get_runtime_context()
    return ctx.get_task_id(), ctx.get_job_id(), ctx.get_node_id(), ctx.get_actor_id()


@ray.remote
class Actor:
    def get_task_id(self):
        return ray.get_runtime_context().get_task_id()

    def get_actor_id(self):
        return ray.get_runtime_context().get_actor_id()

    def whoami(self):
        ctx = ray.get_runtime_context()
        return ctx.get_actor_name(), ctx.was_current_actor_reconstructed

    def myself(self):
        return ray.get_runtime_context().current_actor


# All of these generate different task ids.
a = Actor.options(name="ctx_actor").remote()
actor_task_1 = ray.get(a.get_task_id.remote())
actor_task_2 = ray.get(a.get_task_id.remote())
task_id, task_job, task_node, task_actor = ray.get(get_task_id.remote())
assert len({actor_task_1, actor_task_2, task_id}) == 3
assert task_job == job_id and task_node == node_id
assert task_actor is None  # a normal task is not an actor

actor_id = ray.get(a.get_actor_id.remote())
assert isinstance(actor_id, str) and actor_id
assert ray.get(a.whoami.remote()) == ("ctx_actor", False)

# current_actor is a handle to the actor itself.
handle = ray.get(a.myself.remote())
assert ray.get(handle.get_actor_id.remote()) == actor_id


@ray.remote(num_cpus=1)
def resources():
    return ray.get_runtime_context().get_assigned_resources()


assert ray.get(resources.remote()) == {"CPU": 1.0}

ray.shutdown()
print("ok")
