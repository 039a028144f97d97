from greenroom.tune.experiment.trial import Trial

__all__ = ["Trial"]
