"""``python -m greenroom``: the ``greenroom`` command (cli.py)."""

import sys

from greenroom.cli import main

sys.exit(main())
