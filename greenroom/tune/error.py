"""Tune's own error (Ray's ``tune.TuneError``)."""

from greenroom.exceptions import RayError


class TuneError(RayError):
    """The experiment could not run or finish as asked; the message says why and what to change."""
