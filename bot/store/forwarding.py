"""Moving deliveries from a channel's own queue onto its platform's outbox stream.

A step that changes a channel's state and makes a delivery (a story routed, a digest
built, a channel alert matched) writes both in one script or transaction, on keys of the
channel's one hash tag: the delivery goes into ``{c:<channel>}:out``, not onto
``outbox:{platform}``, which all channels share and which therefore lives in another
Cluster slot. `Forwarder.forward` then moves each queued delivery onto the stream and
only after that removes it from the channel's queue (by value: its JSON holds its
delivery id, so it is unique). A crash in between forwards it again; the outbox sends a
delivery id once, so the repeat is dropped there. The producer forwards at once, and the
outbox consumer sweeps its platform's channels every few seconds for anything a crash left.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, cast

from redis.asyncio import Redis
from redis.asyncio.client import Pipeline

from bot.store.keys import Keys
from bot.store.replication import replicated

log = logging.getLogger(__name__)

FORWARD_BATCH = 500


def encode(fields: Mapping[str, str]) -> str:
    return json.dumps(dict(fields), separators=(",", ":"), sort_keys=True)


def enqueue(pipe: Pipeline, keys: Keys, fields: Mapping[str, str]) -> None:
    """Queue a delivery on its channel, in the caller's pipeline or transaction."""
    pipe.rpush(keys.channel_out(fields["channel"]), encode(fields))


class Forwarder:
    """Moves channels' queued deliveries onto the platforms' outbox streams."""

    def __init__(self, client: Redis, keys: Keys) -> None:
        self._client = client
        self._keys = keys

    async def forward(self, channels: Iterable[str]) -> int:
        """Forward what these channels have queued, in order; how many deliveries."""
        channels = list(dict.fromkeys(channels))
        if not channels:
            return 0
        async with self._client.pipeline(transaction=False) as pipe:
            for channel in channels:
                pipe.lrange(self._keys.channel_out(channel), 0, FORWARD_BATCH - 1)
            queued = await pipe.execute()
        waiting = [(c, [str(r) for r in rows]) for c, rows in zip(channels, queued, strict=True)]
        waiting = [(c, rows) for c, rows in waiting if rows]
        if not waiting:
            return 0
        by_platform: dict[str, list[str]] = {}
        for channel, rows in waiting:
            by_platform.setdefault(channel.split(":", 1)[0], []).extend(rows)
        for platform, rows in by_platform.items():
            stream = self._keys.outbox(platform)

            def add(pipe: Pipeline, stream: str = stream, rows: list[str] = rows) -> None:
                for row in rows:
                    pipe.xadd(stream, cast(dict[Any, Any], json.loads(row)))

            # On the stream, and on a replica of it, before it leaves the channel's queue.
            await replicated(self._client, stream, add)
        async with self._client.pipeline(transaction=False) as pipe:
            for channel, rows in waiting:
                for row in rows:
                    pipe.lrem(self._keys.channel_out(channel), 1, row)
            await pipe.execute()
        return sum(len(rows) for _channel, rows in waiting)

    async def channels_of(self, platform: str) -> list[str]:
        """The platform's channels that anything queues deliveries for: those with
        subscriptions or settings, and those of alerts (a channel, or a member's DMs)."""
        channels = {str(c) for c in await self._client.smembers(self._keys.channels)}
        for raw in await self._client.hvals(self._keys.alerts):
            alert = json.loads(raw)
            channels.add(str(alert.get("channel") or f"{alert['platform']}:dm:{alert['user']}"))
        return sorted(c for c in channels if c.startswith(f"{platform}:"))

    async def sweep(self, platform: str) -> int:
        """Forward whatever a crash left queued on any channel of the platform."""
        return await self.sweep_channels(await self.channels_of(platform))

    async def sweep_channels(self, channels: Sequence[str]) -> int:
        """Forward whatever a crash left queued on any of these channels."""
        if not channels:
            return 0
        async with self._client.pipeline(transaction=False) as pipe:
            for channel in channels:
                pipe.llen(self._keys.channel_out(channel))
            lengths = await pipe.execute()
        left = [c for c, n in zip(channels, lengths, strict=True) if int(n)]
        if not left:
            return 0
        moved = await self.forward(left)
        log.info("forwarded deliveries left queued", extra={"deliveries": moved})
        return moved
