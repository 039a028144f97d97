"""greenroom's dashboard: one page that shows what the node runs, refreshed every second.

``start_dashboard()`` serves it from this driver process on a thread of its
own; ``greenroom dashboard`` (the CLI) does the same for a head node. It
reads everything through ``greenroom.util.state`` and the resource calls.
"""

from greenroom.dashboard.server import Dashboard, start_dashboard

__all__ = ["Dashboard", "start_dashboard"]
