"""Ray's ``ray.actor`` path: ``exit_actor``, ``ActorHandle``, ``ActorClass``."""

from greenroom.actors.actor_class import ActorClass
from greenroom.actors.methods import method
from greenroom.actors.handle import ActorHandle, ActorMethod
from greenroom.runtime.actor_worker import exit_actor

__all__ = ["ActorClass", "ActorHandle", "ActorMethod", "exit_actor", "method"]
