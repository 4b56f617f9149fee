"""Measuring how long the event loop stalls: a sleeper that notes how late it wakes.

Every role, `/healthz` and (soon) the 3-second chat acknowledgements share one event loop,
so CPU work on it delays them all. Parsing, extraction, summarising and folding run in
worker threads; this measures what is left, for `/metrics` and for `bench/ingest.py`.
"""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import Callable

SAMPLE_EVERY = 0.05
# How long a thread holding the GIL may run before the event loop's thread gets it back.
SWITCH_INTERVAL = 0.001


def favour_the_loop() -> None:
    """Let the event loop's thread take the GIL back within a millisecond (Python's default
    is 5 ms) from the one thread doing CPU work (`handlers.offload`)."""
    sys.setswitchinterval(SWITCH_INTERVAL)


class LoopLag:
    """The latest and the longest stall seen, in seconds."""

    def __init__(self, *, every: float = SAMPLE_EVERY) -> None:
        self.every = every
        self.latest = 0.0
        self.longest = 0.0

    async def watch(
        self, stop: asyncio.Event, *, on_sample: Callable[[float], None] | None = None
    ) -> None:
        """Sample until `stop` is set."""
        while not stop.is_set():
            started = time.perf_counter()
            await asyncio.sleep(self.every)
            self.latest = max(time.perf_counter() - started - self.every, 0.0)
            self.longest = max(self.longest, self.latest)
            if on_sample is not None:
                on_sample(self.latest)
