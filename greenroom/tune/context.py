"""``tune.get_context()`` and ``tune.TuneContext`` at Ray's ``ray.tune.context`` path.

They are defined with the trial's session (``trainable/session.py``).
"""

from greenroom.tune.trainable.session import TrialStorage, TuneContext, get_context

__all__ = ["TrialStorage", "TuneContext", "get_context"]
