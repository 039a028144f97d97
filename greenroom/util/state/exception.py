"""The state API's error, at Ray's path ``ray.util.state.exception``."""


class RayStateApiException(Exception):
    """A state API call could not give a complete answer.

    Raised by the ``list_*`` and ``summarize_*`` functions when
    ``raise_on_missing_output=True`` (the default) and the node no longer has
    every record (it keeps the last 10,000 finished tasks and actor calls, and
    lists at most 10,000 rows of a kind). Pass ``raise_on_missing_output=False``
    to get what it has.
    """
