"""Draining the outbox: each queued delivery reaches its platform once.

Deliveries wait on ``outbox:{platform}`` (consumer group ``delivery``) until the platform
accepts them. Before sending, the consumer looks for the delivery id's record; after the
platform accepted, it writes the record, then acknowledges. So a retry after a crash never
posts again, except in the one window DESIGN.md allows: a process that dies after the
platform accepted a message and before the record was written. That window is one Redis
round trip. A channel that fails for good (the bot is not in it, a permission is missing)
is recorded on the channel and its delivery dropped; it never blocks other channels. A
rate limit waits for its Retry-After.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol, cast

from redis.asyncio import Redis
from redis.exceptions import RedisError, ResponseError

from bot.errors import NewsbotError
from bot.keys import Keys
from bot.stopping import sleep_unless_stopped
from handlers.article import short_hash

log = logging.getLogger(__name__)

GROUP = "delivery"


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
        record = self.keys.delivered(short_hash(delivery))
        if not await self.client.exists(record):
            try:
                await self.deliverer.deliver(fields)
            except DeliveryFailed as exc:
                if not exc.permanent:
                    log.warning(
                        "delivery refused; will retry",
                        extra={"delivery": delivery, "error": str(exc)},
                    )
                    if exc.retry_after:
                        await asyncio.sleep(min(exc.retry_after, 60.0))
                    return False
                log.error(
                    "channel fails for good; delivery dropped",
                    extra={"delivery": delivery, "error": str(exc)},
                )
                await self.client.hset(
                    self.keys.channel(fields.get("channel", "")), "failed", str(exc)[:300]
                )
            else:
                await self.client.set(record, "1", ex=self.ttl)
        async with self.client.pipeline(transaction=False) as pipe:
            pipe.xack(self.stream, GROUP, message_id)
            pipe.xdel(self.stream, message_id)
            await pipe.execute()
        return True

    async def drain(self) -> int:
        """Deliver everything queued now; return how many were handled."""
        await self.ensure_group()
        handled = 0
        for start in ("0", ">"):
            while True:
                reply: Any = await self.blocking.xreadgroup(
                    GROUP, self.consumer, {self.stream: start}, count=50
                )
                messages = [m for _s, batch in reply or [] for m in batch]
                if not messages:
                    break
                done = [await self.handle(mid, cast(dict[str, str], f)) for mid, f in messages]
                handled += sum(done)
                if not all(done) or start == "0":
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
