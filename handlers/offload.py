"""CPU work off the event loop, one piece at a time.

Parsing, extraction, summarising and folding are pure Python for the most part: in a
worker thread they no longer block the event loop, but they still hold the GIL. With
several such threads, the event loop waits its turn behind each of them, and measured
stalls reached 150-500 ms while ingesting the 200 real feeds. One thread for all of it
keeps the loop's wait to a switch interval (newsbot run sets it to 1 ms): under 100 ms.
Blocking I/O (files, stdin) keeps using `asyncio.to_thread`.
"""

from __future__ import annotations

import asyncio
import functools
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import ParamSpec, TypeVar

P = ParamSpec("P")
R = TypeVar("R")

_lock = threading.Lock()
_executor: ThreadPoolExecutor | None = None


def _pool() -> ThreadPoolExecutor:
    global _executor
    with _lock:
        if _executor is None:
            _executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="newsbot-cpu")
        return _executor


async def off_loop(function: Callable[P, R], /, *args: P.args, **kwargs: P.kwargs) -> R:
    """`function(*args, **kwargs)` on the one CPU thread, awaited from the event loop."""
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(_pool(), functools.partial(function, *args, **kwargs))
