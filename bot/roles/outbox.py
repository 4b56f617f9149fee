"""Draining the outbox: each queued delivery reaches its platform once.

Deliveries wait on ``outbox:{platform}`` (consumer group ``delivery``) until the platform
accepts them. Right before sending, after any pacing wait, the consumer takes the delivery
id's record as a short lease (``SET NX``): a record that says "sent" means the delivery is
done and is only acknowledged; a lease held by another consumer means it is being sent
there, and it stays queued. After the platform accepted, the record becomes "sent", then
the message is acknowledged. So a retry, a copy queued twice, or two consumers holding one
message never post twice, except in the one window DESIGN.md allows: a process that dies
after the platform accepted a message and before the record was written; its lease then
lapses and the message is sent again. That window is one Redis round trip.

A channel that fails for good (the bot is not in it, a permission is missing) is recorded
on the channel and its delivery dropped; it never blocks other channels, and the record is
cleared by the channel's next successful delivery. Any other failure, expected or not,
leaves the delivery queued and holds only that channel for a while.

Channels are served concurrently and each in order, paced by `bot.store.pacing`: about one
message a second per channel, however many processes deliver. A refusal with a
Retry-After (HTTP 429) holds that channel, and its deliveries stay queued, in order, until
the wait is over; other channels go on. Every drain looks at all of this consumer's
pending messages, so a held channel never hides another channel's retries. Messages left
pending by a consumer that died are taken over after `claim_idle` seconds (XAUTOCLAIM),
and the dead consumer is then removed from the group.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol, cast

from redis.asyncio import Redis
from redis.commands.core import AsyncScript
from redis.exceptions import RedisError

from bot.errors import NewsbotError
from bot.stopping import sleep_unless_stopped
from bot.store import streams
from bot.store.keys import Keys
from bot.store.pacing import ChannelPacer
from handlers.article import short_hash

log = logging.getLogger(__name__)

GROUP = "delivery"
RETRY_WITHOUT_AFTER = 5.0
# The longest pacing wait taken inline; longer holds (429s) are waited out while queued.
PATIENCE = 2.0
# How long one consumer holds a delivery id while sending it: longer than any send takes.
SEND_LEASE = 120
SENT = "1"
# A message pending this long on a consumer that no longer reads it is taken over.
CLAIM_IDLE = 60.0
# A consumer idle for this many claim periods, with nothing pending, is gone for good.
CONSUMER_GONE_AFTER = 10
READ_COUNT = 50
PENDING_MAX = 5000
Message = streams.Message
# KEYS[1] a delivery record; ARGV[1] the lease this consumer holds on it.
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end
"""


def _contents(fields: Mapping[str, str]) -> dict[str, str]:
    """What a delivery carries, for its log line: the channel, and its stories if any."""
    shown = {"channel": fields.get("channel", ""), "kind": fields.get("kind", "")}
    stories = fields.get("stories") or fields.get("story")
    if stories:
        shown["stories"] = stories
    if fields.get("more", "0") != "0":
        shown["more"] = fields["more"]
    return shown


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
    claim_idle: float = CLAIM_IDLE
    _pacer: ChannelPacer = field(init=False, repr=False)
    _release_script: AsyncScript = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._pacer = self.pacer or ChannelPacer(self.client, self.keys)
        self._release_script = self.client.register_script(_RELEASE)

    @property
    def stream(self) -> str:
        return self.keys.outbox(self.deliverer.platform)

    async def ensure_group(self) -> None:
        await streams.ensure_group(self.client, self.stream, GROUP)

    async def handle(self, message_id: str, fields: Mapping[str, str]) -> bool:
        """Deliver one message; return False when it must stay queued (retry later)."""
        delivery = fields.get("delivery", message_id)
        channel = fields.get("channel", "")
        record = self.keys.delivered(short_hash(delivery))
        if await self.client.get(record) is None:
            await self._pacer.wait(channel)
            lease = f"sending {self.consumer}"
            if await self.client.set(record, lease, nx=True, ex=SEND_LEASE):
                if not await self._send(fields, record=record, lease=lease):
                    return False
            elif not await self._settle(record):
                return False  # being sent by another consumer: leave it queued
        elif not await self._settle(record):
            return False
        await self._acknowledge(message_id)
        return True

    async def _send(self, fields: Mapping[str, str], *, record: str, lease: str) -> bool:
        """Send under the lease; False when the delivery must be retried."""
        delivery = fields.get("delivery", "")
        channel = fields.get("channel", "")
        try:
            await self.deliverer.deliver(fields)
        except DeliveryFailed as exc:
            await self._release(record, lease)
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
            return True
        except Exception:  # the per-delivery boundary: a bug or an outage, never a lost post
            log.exception(
                "delivery failed unexpectedly; will retry",
                extra={"delivery": delivery, "retry_in": RETRY_WITHOUT_AFTER},
            )
            with contextlib.suppress(RedisError):
                await self._release(record, lease)
                await self._pacer.hold(channel, RETRY_WITHOUT_AFTER)
            return False
        # Two lines per delivery, so that a double post can be told apart: one sent without
        # "recorded" after it is the one window DESIGN.md allows (see bench/crash.py).
        log.info("delivery sent", extra={"delivery": delivery, **_contents(fields)})
        async with self.client.pipeline(transaction=False) as pipe:
            pipe.set(record, SENT, ex=self.ttl)
            pipe.hdel(self.keys.channel(channel), "failed", "failed_at", "refusal_told")
            await pipe.execute()
        log.info("delivery recorded", extra={"delivery": delivery})
        return True

    async def _settle(self, record: str) -> bool:
        """True when the record says the delivery was sent (so the message can go)."""
        return await self.client.get(record) == SENT

    async def _release(self, record: str, lease: str) -> None:
        await self._release_script(keys=[record], args=[lease])

    async def _acknowledge(self, message_id: str) -> None:
        async with self.client.pipeline(transaction=False) as pipe:
            pipe.xack(self.stream, GROUP, message_id)
            pipe.xdel(self.stream, message_id)
            await pipe.execute()

    async def _serve_channel(self, messages: list[Message], stop: asyncio.Event | None) -> int:
        """One channel's messages in order; stop at the first that must wait. Never raises:
        a failure ends this channel's turn and leaves the rest queued for the next drain."""
        done = 0
        channel = messages[0][1].get("channel", "") if messages else ""
        try:
            for message_id, fields in messages:
                if stop is not None and stop.is_set():
                    break
                if await self._pacer.wait_for(channel) > PATIENCE:
                    break  # held by a rate limit: leave this and the rest queued, in order
                if not await self.handle(message_id, fields):
                    break
                done += 1
        except Exception:
            log.warning(
                "cannot serve a channel now; its deliveries stay queued",
                exc_info=True,
                extra={"channel": channel},
            )
        return done

    async def deliver_batch(
        self, messages: list[Message], stop: asyncio.Event | None = None
    ) -> tuple[int, bool]:
        """Deliver a batch, channels concurrently; return (handled, all handled).

        Each channel's turn ends on its own (see `_serve_channel`), so one channel's error
        never leaves another's send running into the next drain, which would send it again."""
        by_channel: dict[str, list[Message]] = defaultdict(list)
        for message_id, fields in messages:
            by_channel[fields.get("channel", "")].append((message_id, fields))
        counts = await asyncio.gather(*(self._serve_channel(m, stop) for m in by_channel.values()))
        return sum(counts), sum(counts) == len(messages)

    async def _read(self, start: str) -> list[Message]:
        reply: Any = await self.blocking.xreadgroup(
            GROUP, self.consumer, {self.stream: start}, count=READ_COUNT
        )
        return [
            (str(mid), cast(dict[str, str], f)) for _s, batch in reply or [] for mid, f in batch
        ]

    async def _pending(self) -> list[Message]:
        """This consumer's pending messages, all of them (up to `PENDING_MAX`), oldest first."""
        messages: list[Message] = []
        start = "0"
        while len(messages) < PENDING_MAX:
            page = await self._read(start)
            if not page:
                break
            messages += page
            start = page[-1][0]
        return messages

    async def drain(self, stop: asyncio.Event | None = None) -> int:
        """Deliver everything queued now; return how many were handled. Returns soon after
        `stop` is set, leaving the rest queued."""
        await self.ensure_group()
        await streams.claim_idle(
            self.client, self.stream, GROUP, self.consumer, idle=self.claim_idle
        )
        handled, _complete = await self.deliver_batch(await self._pending(), stop)
        while stop is None or not stop.is_set():
            messages = await self._read(">")
            if not messages:
                break
            count, complete = await self.deliver_batch(messages, stop)
            handled += count
            if not complete:
                break
        return handled

    async def run(self, stop: asyncio.Event) -> None:
        """Drain until `stop` is set; Redis outages are logged and retried, never fatal."""
        pause = 0.5
        last_cleanup = 0.0
        while not stop.is_set():
            try:
                if not await self.drain(stop):
                    await sleep_unless_stopped(stop, self.block_ms / 1000)
                if time.monotonic() - last_cleanup > self.claim_idle:
                    last_cleanup = time.monotonic()
                    await streams.remove_idle_consumers(
                        self.client,
                        self.stream,
                        GROUP,
                        keep=self.consumer,
                        idle=self.claim_idle * CONSUMER_GONE_AFTER,
                    )
                pause = 0.5
            except RedisError as exc:
                log.warning("outbox cannot reach Redis; retrying", extra={"error": str(exc)})
                await sleep_unless_stopped(stop, pause)
                pause = min(pause * 2, 30.0)
