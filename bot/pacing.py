"""Pacing messages per channel: about one a second (Slack's rule), and a 429's Retry-After.

One pacer is shared by everything that sends in a process: the outbox consumer waits on
it before each delivery, and an adapter that splits a digest into several messages waits
on it before each part. Channels are paced apart, so a busy channel never slows another.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

PER_CHANNEL_INTERVAL = 1.0


class ChannelPacer:
    """Keeps `interval` seconds between messages to one channel, and holds channels that
    were told to wait."""

    def __init__(
        self,
        interval: float = PER_CHANNEL_INTERVAL,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._interval = interval
        self._clock = clock
        self._ready: dict[str, float] = {}

    def wait_for(self, channel: str) -> float:
        """Seconds until the channel may be sent to."""
        return max(self._ready.get(channel, 0.0) - self._clock(), 0.0)

    async def wait(self, channel: str) -> None:
        """Wait for the channel's turn and take it."""
        delay = self.wait_for(channel)
        if delay:
            await asyncio.sleep(delay)
        now = self._clock()
        self._ready[channel] = now + self._interval
        if len(self._ready) > 10_000:
            self._ready = {c: t for c, t in self._ready.items() if t > now}

    def hold(self, channel: str, seconds: float) -> None:
        """Send nothing to the channel for `seconds` (a rate limit's Retry-After)."""
        until = self._clock() + seconds
        self._ready[channel] = max(self._ready.get(channel, 0.0), until)
