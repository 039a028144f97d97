"""Engines other than greenroom's own node that the same API can run on.

Each backend is optional and imported only when ``init(address=...)`` names it
(the package face registers how, through ``runtime.state.register_backend``);
nothing below the face imports a backend.
"""
