"""Ray's ``ray.util.multiprocessing``: a drop-in ``multiprocessing.Pool`` on greenroom's workers.

``TimeoutError`` and ``JoinableQueue`` are the standard library's, re-exported
as Ray does, so ``from greenroom.util.multiprocessing import Pool, TimeoutError``
replaces ``from multiprocessing import Pool, TimeoutError``.
"""

from multiprocessing import JoinableQueue, TimeoutError

from greenroom.util.multiprocessing.pool import Pool
from greenroom.util.multiprocessing.results import AsyncResult, IMapIterator, IMapUnorderedIterator

__all__ = ["AsyncResult", "IMapIterator", "IMapUnorderedIterator", "JoinableQueue", "Pool", "TimeoutError"]
