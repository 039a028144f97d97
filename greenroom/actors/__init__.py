"""Actors: classes decorated with ``@remote``, their handles, and method calls."""

from greenroom.actors.actor_class import ActorClass
from greenroom.actors.handle import ActorHandle, ActorMethod, get_actor, kill
from greenroom.actors.methods import method
from greenroom.actors.remote import remote

__all__ = ["ActorClass", "ActorHandle", "ActorMethod", "get_actor", "kill", "method", "remote"]
