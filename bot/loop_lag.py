"""Measuring how long the event loop stalls: a sleeper that notes how late it wakes.

Every role, `/healthz` and (soon) the 3-second chat acknowledgements share one event loop,
so CPU work on it delays them all. Parsing, extraction, summarising and folding run in
worker threads; this measures what is left, for `/metrics` and for `bench/ingest.py`.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

SAMPLE_EVERY = 0.05


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
