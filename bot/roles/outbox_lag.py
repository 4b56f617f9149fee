"""How far behind each platform's outbox is, and whether anything is draining it.

A channel on a platform whose adapter runs nowhere (no credentials for it) fills
``outbox:{platform}`` with nothing to send it. That is never silent: `/healthz` reports
each outbox's lag, `newsbot check` says which platforms have deliveries and no deliverer,
and the chat role logs it at start and whenever such an outbox grows.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import RedisError, ResponseError

from bot.stopping import sleep_unless_stopped
from bot.store.keys import Keys
from handlers.channels import PLATFORMS, ChannelError, ChannelRef

log = logging.getLogger(__name__)

# A consumer that read within this many seconds counts as a running deliverer.
ACTIVE_WITHIN = 60.0
WATCH_EVERY = 60.0


@dataclass(frozen=True)
class OutboxLag:
    """One platform's outbox: deliveries queued, the oldest one's age, live consumers,
    dead letters and held channels."""

    platform: str
    queued: int
    oldest_age: float
    deliverers: int
    dead: int = 0
    held: int = 0

    @property
    def stranded(self) -> bool:
        """Deliveries wait and nothing drains them."""
        return self.queued > 0 and self.deliverers == 0

    def report(self) -> dict[str, object]:
        return {
            "queued": self.queued,
            "oldest_seconds": round(self.oldest_age),
            "deliverers": self.deliverers,
            "dead_letters": self.dead,
            "held_channels": self.held,
        }

    def describe(self) -> str:
        extra = "".join(
            f", {count} {what}"
            for count, what in ((self.dead, "dead letter(s)"), (self.held, "held channel(s)"))
            if count
        )
        if not self.queued:
            return f"{self.platform}: empty, {self.deliverers} deliverer(s){extra}"
        text = f"{self.platform}: {self.queued} queued, oldest {duration(self.oldest_age)}"
        if self.stranded:
            return f"{text}, NO deliverer running (set the {self.platform} credentials){extra}"
        return f"{text}, {self.deliverers} deliverer(s){extra}"

    @property
    def worth_telling(self) -> bool:
        return bool(self.queued or self.deliverers or self.dead or self.held)


def duration(seconds: float) -> str:
    """A short age: 45s, 12m, 3h, 2d."""
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size:.0f}{unit}"
    return f"{seconds:.0f}s"


async def outbox_lag(client: Redis, keys: Keys, platform: str, *, now: float) -> OutboxLag:
    """The lag of one platform's outbox, as any process sharing the Redis sees it."""
    stream = keys.outbox(platform)
    queued = int(await client.xlen(stream))
    oldest_age = 0.0
    if queued:
        first: Any = await client.xrange(stream, count=1)
        if first:
            oldest_age = max(now - int(str(first[0][0]).split("-")[0]) / 1000, 0.0)
    try:
        consumers: Any = await client.xinfo_consumers(stream, "delivery")
    except ResponseError:  # no stream or no group yet: nobody ever delivered here
        consumers = []
    active = sum(1 for c in consumers if int(c["idle"]) < ACTIVE_WITHIN * 1000)
    async with client.pipeline(transaction=False) as pipe:
        pipe.xlen(keys.outbox_dead(platform))
        pipe.zcard(keys.outbox_holds(platform))
        dead, held = await pipe.execute()
    return OutboxLag(platform, queued, oldest_age, active, int(dead), int(held))


# How many of a platform's oldest queued deliveries a workspace's lag looks through.
SCAN_FOR_CHANNELS = 2000


@dataclass(frozen=True)
class ChannelsLag:
    """What waits on a platform's outbox for some channels (a manager's): how many of
    the oldest `scanned` deliveries are theirs, and the oldest one's age."""

    waiting: int
    oldest_age: float
    partial: bool  # the outbox holds more than was looked through


async def channels_lag(
    client: Redis,
    keys: Keys,
    platform: str,
    channels: Iterable[str],
    *,
    now: float,
    scan: int = SCAN_FOR_CHANNELS,
) -> ChannelsLag:
    """The lag of `channels` on one platform's outbox, among its oldest `scan` deliveries
    (the stream is in queueing order, so the oldest of theirs is found first)."""
    mine = set(channels)
    entries: Any = await client.xrange(keys.outbox(platform), count=scan + 1)
    partial = len(entries) > scan
    waiting, oldest = 0, 0.0
    for entry_id, fields in entries[:scan]:
        if str(fields.get("channel", "")) in mine:
            if not waiting:
                oldest = max(now - int(str(entry_id).split("-")[0]) / 1000, 0.0)
            waiting += 1
    return ChannelsLag(waiting, oldest, partial)


async def outbox_lags(client: Redis, keys: Keys, *, now: float) -> list[OutboxLag]:
    return [await outbox_lag(client, keys, p, now=now) for p in PLATFORMS]


def platforms_of(channels: Iterable[str]) -> set[str]:
    """The platforms that subscribed channels are on."""
    found = set()
    for channel in channels:
        try:
            found.add(ChannelRef.parse(channel).platform)
        except ChannelError:
            continue
    return found


async def watch_outboxes(
    client: Redis,
    keys: Keys,
    stop: asyncio.Event,
    *,
    delivering: Iterable[str],
    clock: Callable[[], float],
    every: float = WATCH_EVERY,
) -> None:
    """Log platforms whose channels get deliveries that nothing here sends: once at start,
    then whenever their outbox has grown."""
    here = set(delivering)
    subscribed = platforms_of(str(c) for c in await client.smembers(keys.channels))
    for platform in sorted(subscribed - here):
        log.warning(
            "channels on this platform are subscribed, but no deliverer for it runs here; "
            "their deliveries stay queued until one does",
            extra={"platform": platform},
        )
    seen: dict[str, int] = {}
    while not stop.is_set():
        try:
            for platform in (p for p in PLATFORMS if p not in here):
                lag = await outbox_lag(client, keys, platform, now=clock())
                if lag.stranded and lag.queued > seen.get(platform, 0):
                    log.warning(
                        "deliveries wait with no deliverer running",
                        extra={
                            "platform": platform,
                            "queued": lag.queued,
                            "oldest_seconds": round(lag.oldest_age),
                        },
                    )
                seen[platform] = lag.queued
        except RedisError as exc:
            log.warning("cannot read the outboxes' lag", extra={"error": str(exc)})
        await sleep_unless_stopped(stop, every)
