"""Pacing messages per channel: about one a second (Slack's rule), and a 429's Retry-After.

A channel's next free moment is kept in Redis (``pace:{channel}``), and one script takes it
and moves it on, so every process that sends through one Redis keeps the pace together:
two processes delivering to one channel do not send twice as fast. The outbox consumer
waits on the pacer before each delivery, and an adapter that splits a digest into several
messages waits on it before each part. Channels are paced apart, so a busy channel never
slows another. Times come from the caller's clock (`time.time`): processes sharing a Redis
are expected to keep their clocks in step, as NTP does.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from redis.asyncio import Redis

from bot.store.batch import lua
from bot.store.keys import Keys

PER_CHANNEL_INTERVAL = 1.0

# KEYS[1] the channel's pace key; ARGV: now, the earliest moment to take (as seconds from
# now), the seconds to keep free after it. The channel's next free moment at or after the
# earliest is taken, and the pace moves past it; returns the seconds until that moment.
_TAKE = lua(
    """
local now = tonumber(ARGV[1])
local free = math.max(tonumber(redis.call('GET', KEYS[1]) or '0'), now + tonumber(ARGV[2]))
local after = free + tonumber(ARGV[3])
redis.call('SET', KEYS[1], tostring(after), 'PX', math.ceil((after - now) * 1000) + 1000)
return tostring(free - now)
"""
)


class ChannelPacer:
    """Keeps `interval` seconds between messages to one channel, and holds channels that
    were told to wait; shared by every process on the same Redis."""

    def __init__(
        self,
        client: Redis,
        keys: Keys,
        interval: float = PER_CHANNEL_INTERVAL,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._client = client
        self._keys = keys
        self._interval = interval
        self._clock = clock
        self._take = client.register_script(_TAKE)

    async def wait_for(self, channel: str) -> float:
        """Seconds until the channel may be sent to."""
        free = await self._client.get(self._keys.pace(channel))
        return max(float(free or 0) - self._clock(), 0.0)

    async def wait(self, channel: str) -> None:
        """Take the channel's next free moment, and wait for it."""
        delay = float(
            await self._take(
                keys=[self._keys.pace(channel)], args=[self._clock(), 0, self._interval]
            )
        )
        if delay > 0:
            await asyncio.sleep(delay)

    async def hold(self, channel: str, seconds: float) -> None:
        """Send nothing to the channel for `seconds` (a rate limit's Retry-After)."""
        await self._take(keys=[self._keys.pace(channel)], args=[self._clock(), seconds, 0])
