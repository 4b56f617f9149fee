"""Draining the outbox: each queued delivery reaches its platform once.

Deliveries wait on ``outbox:{platform}`` (consumer group ``delivery``) until the platform
accepts them. Before sending, the consumer looks for the delivery id's record; after the
platform accepted, it writes the record, then acknowledges. So a retry after a crash never
posts again, except in the one window DESIGN.md allows: a process that dies after the
platform accepted a message and before the record was written. That window is one Redis
round trip. A channel that fails for good (the bot is not in it, a permission is missing)
is recorded on the channel and its delivery dropped; it never blocks other channels, and
the record is cleared by the channel's next successful delivery.

Channels are served concurrently and each in order, paced by `bot.store.pacing`: about one
message a second per channel, however many processes deliver. A refusal with a
Retry-After (HTTP 429) holds that channel, and its deliveries stay queued, in order, until
the wait is over; other channels go on.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol, cast

from redis.asyncio import Redis
from redis.exceptions import RedisError, ResponseError

from bot.errors import NewsbotError
from bot.stopping import sleep_unless_stopped
from bot.store.keys import Keys
from bot.store.pacing import ChannelPacer
from handlers.article import short_hash

log = logging.getLogger(__name__)

GROUP = "delivery"
RETRY_WITHOUT_AFTER = 5.0
# The longest pacing wait taken inline; longer holds (429s) are waited out while queued.
PATIENCE = 2.0
Message = tuple[str, dict[str, str]]


class DeliveryFailed(NewsbotError):
    """A delivery the platform refused; `permanent` ones are dropped, others retried."""

    def __init__(
        self, message: str, *, permanent: bool = False, retry_after: float | None = None
    ) -> None:
        super().__init__(message)
        self.permanent = permanent
        self.retry_after = retry_after


class Deliverer(Protocol):
    """A platform adapter's sending side."""

    platform: str

    async def deliver(self, message: Mapping[str, str]) -> None:
        """Send one outbox message; raise `DeliveryFailed` when the platform refuses it."""
        ...


@dataclass
class OutboxConsumer:
    """Drains one platform's outbox through its deliverer."""

    client: Redis
    blocking: Redis
    keys: Keys
    deliverer: Deliverer
    consumer: str
    ttl: int
    block_ms: int = 1000
    pacer: ChannelPacer | None = None  # None: the default pace, shared through Redis
    _pacer: ChannelPacer = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._pacer = self.pacer or ChannelPacer(self.client, self.keys)

    @property
    def stream(self) -> str:
        return self.keys.outbox(self.deliverer.platform)

    async def ensure_group(self) -> None:
        try:
            await self.client.xgroup_create(self.stream, GROUP, id="0", mkstream=True)
        except ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise

    async def handle(self, message_id: str, fields: Mapping[str, str]) -> bool:
        """Deliver one message; return False when it must stay queued (retry later)."""
        delivery = fields.get("delivery", message_id)
        channel = fields.get("channel", "")
        record = self.keys.delivered(short_hash(delivery))
        if not await self.client.exists(record):
            await self._pacer.wait(channel)
            try:
                await self.deliverer.deliver(fields)
            except DeliveryFailed as exc:
                if not exc.permanent:
                    wait = exc.retry_after or RETRY_WITHOUT_AFTER
                    log.warning(
                        "delivery refused; will retry",
                        extra={"delivery": delivery, "error": str(exc), "retry_in": wait},
                    )
                    await self._pacer.hold(channel, wait)
                    return False
                log.error(
                    "channel fails for good; delivery dropped",
                    extra={"delivery": delivery, "error": str(exc)},
                )
                await self.client.hset(
                    self.keys.channel(channel),
                    mapping={"failed": str(exc)[:300], "failed_at": str(int(time.time()))},
                )
            else:
                async with self.client.pipeline(transaction=False) as pipe:
                    pipe.set(record, "1", ex=self.ttl)
                    pipe.hdel(self.keys.channel(channel), "failed", "failed_at")
                    await pipe.execute()
        async with self.client.pipeline(transaction=False) as pipe:
            pipe.xack(self.stream, GROUP, message_id)
            pipe.xdel(self.stream, message_id)
            await pipe.execute()
        return True

    async def _serve_channel(self, messages: list[Message]) -> int:
        """One channel's messages in order; stop at the first that must wait."""
        done = 0
        for message_id, fields in messages:
            if await self._pacer.wait_for(fields.get("channel", "")) > PATIENCE:
                break  # held by a rate limit: leave this and the rest queued, in order
            if not await self.handle(message_id, fields):
                break
            done += 1
        return done

    async def deliver_batch(self, messages: list[Message]) -> tuple[int, bool]:
        """Deliver a batch, channels concurrently; return (handled, all handled)."""
        by_channel: dict[str, list[Message]] = defaultdict(list)
        for message_id, fields in messages:
            by_channel[fields.get("channel", "")].append((message_id, fields))
        counts = await asyncio.gather(*(self._serve_channel(m) for m in by_channel.values()))
        return sum(counts), sum(counts) == len(messages)

    async def drain(self) -> int:
        """Deliver everything queued now; return how many were handled."""
        await self.ensure_group()
        handled = 0
        for start in ("0", ">"):
            while True:
                reply: Any = await self.blocking.xreadgroup(
                    GROUP, self.consumer, {self.stream: start}, count=50
                )
                messages = [
                    (str(mid), cast(dict[str, str], f))
                    for _s, batch in reply or []
                    for mid, f in batch
                ]
                if not messages:
                    break
                count, complete = await self.deliver_batch(messages)
                handled += count
                if not complete or start == "0":
                    break
        return handled

    async def run(self, stop: asyncio.Event) -> None:
        """Drain until `stop` is set; Redis outages are logged and retried, never fatal."""
        pause = 0.5
        while not stop.is_set():
            try:
                if not await self.drain():
                    await sleep_unless_stopped(stop, self.block_ms / 1000)
                pause = 0.5
            except (RedisError, OSError) as exc:
                log.warning("outbox cannot reach Redis; retrying", extra={"error": str(exc)})
                await sleep_unless_stopped(stop, pause)
                pause = min(pause * 2, 30.0)
