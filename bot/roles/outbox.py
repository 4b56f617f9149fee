"""Draining the outbox: each queued delivery reaches its platform once.

Deliveries wait on ``outbox:{platform}`` (consumer group ``delivery``) until the platform
accepts them. Right before sending, after any pacing wait, the consumer takes the delivery
id's record as a short lease (``SET NX``): a record that says "sent" means the delivery is
done and is only acknowledged; a lease held by another consumer means it is being sent
there, and it stays queued. After the platform accepted, the record becomes "sent", then
the message is acknowledged. So a retry, a copy queued twice, or two consumers holding one
message never post twice, except in the one window docs/contracts.md allows: a process that dies
after the platform accepted a message and before the record was written; its lease then
lapses and the message is sent again. That window is one Redis round trip.

What a refusal does depends on its class (`bot.roles.refusal`): a transient one leaves the
delivery queued, retried with backoff and counted, until `max_attempts` spread over an hour
dead-letter it; a refused message is sent once more as plain text, then dead-lettered; a
refused or gone channel is held (`bot.store.holds`): the delivery and every later one for
that channel wait in its hold, which is probed every `probe_every` seconds, or at once when
something may have restored access, and released in order, grouped
(`bot.roles.outbox_release`). The member who subscribed the channel is told once per hold.

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
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import Protocol

from redis.asyncio import Redis
from redis.commands.core import AsyncScript
from redis.exceptions import RedisError

from bot.roles.outbox_release import group_held
from bot.roles.refusal import (
    DEAD_AFTER,
    MAX_ATTEMPTS,
    DeliveryFailed,
    Refusal,
    backoff,
)
from bot.stopping import sleep_unless_stopped
from bot.store import streams
from bot.store.batch import lua
from bot.store.forwarding import Forwarder
from bot.store.holds import HoldStore
from bot.store.keys import Keys
from bot.store.pacing import ChannelPacer
from bot.store.replication import replicated
from handlers.article import short_hash
from handlers.channels import ChannelRef

log = logging.getLogger(__name__)

__all__ = ["Deliverer", "DeliveryFailed", "OutboxConsumer", "Refusal"]

GROUP = "delivery"
RETRY_WITHOUT_AFTER = 5.0
# The longest pacing wait taken inline; longer holds (429s) are waited out while queued.
PATIENCE = 2.0
# How long one consumer holds a delivery id while sending it, at least; the lease is
# `claim_idle` long and renewed while the send lasts (a paced burst of many parts), so a
# process killed mid-send is replaced within about `claim_idle`.
SEND_LEASE_MIN = 5.0
SENT = "1"
# A message pending this long on a consumer that no longer reads it is taken over.
CLAIM_IDLE = 60.0
# A consumer idle for this many claim periods, with nothing pending, is gone for good.
CONSUMER_GONE_AFTER = 10
READ_COUNT = 50
PENDING_MAX = 5000
# A held channel is probed this often (NEWSBOT_REFUSED_PROBE).
PROBE_EVERY = 900.0
INSTANT_BURST = 5
# How often a consumer forwards deliveries a crash left in its platform's channel queues.
SWEEP_EVERY = 5.0
Message = streams.Message
# KEYS[1] a delivery record; ARGV[1] the lease this consumer holds on it.
_RELEASE = lua(
    """
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end
"""
)
# KEYS[1] a delivery record; ARGV: the lease this consumer holds on it, its new length (ms).
_RENEW = lua(
    """
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
"""
)


class Outcome(Enum):
    DONE = "done"  # sent, sent before, dead-lettered, or nothing to send
    RETRY = "retry"  # stays where it is, in order, for a later try
    HELD = "held"  # the channel refuses: the delivery is in (or stays in) its hold


def _contents(fields: Mapping[str, str]) -> dict[str, str]:
    """What a delivery carries, for its log line: the channel, and its stories if any."""
    shown = {"channel": fields.get("channel", ""), "kind": fields.get("kind", "")}
    stories = fields.get("stories") or fields.get("story")
    if stories:
        shown["stories"] = stories
    if fields.get("more", "0") != "0":
        shown["more"] = fields["more"]
    return shown


class Deliverer(Protocol):
    """A platform adapter's sending side."""

    platform: str

    async def deliver(self, message: Mapping[str, str], *, plain: bool = False) -> None:
        """Send one outbox message (`plain`: as plain text within the platform's limits,
        the second try of a refused message); raise `DeliveryFailed` on a refusal."""
        ...

    async def tell_refused(self, channel: ChannelRef, reason: str) -> None:
        """Tell the member who subscribed a channel that it refuses (once per hold)."""
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
    max_attempts: int = MAX_ATTEMPTS
    dead_after: float = DEAD_AFTER
    probe_every: float = PROBE_EVERY
    burst: int = INSTANT_BURST
    clock: Callable[[], float] = time.time
    _pacer: ChannelPacer = field(init=False, repr=False)
    _holds: HoldStore = field(init=False, repr=False)
    _release_script: AsyncScript = field(init=False, repr=False)
    _renew_script: AsyncScript = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._pacer = self.pacer or ChannelPacer(self.client, self.keys)
        self._holds = HoldStore(self.client, self.keys, ttl=self.ttl)
        self._release_script = self.client.register_script(_RELEASE)
        self._renew_script = self.client.register_script(_RENEW)

    @property
    def send_lease(self) -> float:
        return max(self.claim_idle, SEND_LEASE_MIN)

    @contextlib.asynccontextmanager
    async def _leased(self, record: str, lease: str) -> AsyncIterator[None]:
        """Keep this consumer's lease on a delivery alive while the block sends it."""

        async def renew() -> None:
            while True:
                await asyncio.sleep(self.send_lease / 3)
                with contextlib.suppress(RedisError):
                    await self._renew_script(
                        keys=[record], args=[lease, int(self.send_lease * 1000)]
                    )

        renewer = asyncio.create_task(renew())
        try:
            yield
        finally:
            renewer.cancel()
            await asyncio.gather(renewer, return_exceptions=True)

    async def _take(self, record: str, lease: str) -> bool:
        return bool(await self.client.set(record, lease, nx=True, px=int(self.send_lease * 1000)))

    @property
    def stream(self) -> str:
        return self.keys.outbox(self.deliverer.platform)

    async def ensure_group(self) -> None:
        await streams.ensure_group(self.client, self.stream, GROUP)

    async def handle(self, message_id: str, fields: Mapping[str, str]) -> bool:
        """Deliver one queued message; return False when it must stay queued (retry
        later). A message for a held channel joins its hold and leaves the stream."""
        channel = fields.get("channel", "")
        if await self._holds.hold_if_held(channel, fields):
            await self._holds.ensure_probes([channel], self.clock() + self.probe_every)
            await self._acknowledge(message_id)
            return True
        if await self.deliver(fields) is Outcome.RETRY:
            return False
        await self._acknowledge(message_id)
        return True

    async def deliver(self, fields: Mapping[str, str], *, probing: bool = False) -> Outcome:
        """Send one delivery once, by its record; act on a refusal by its class. A
        `probing` send is one of a held channel's, already in its hold."""
        delivery = fields.get("delivery", "")
        channel = fields.get("channel", "")
        record = self.keys.delivered(short_hash(delivery))
        if await self.client.get(record) is not None:
            return Outcome.DONE if await self._settle(record) else Outcome.RETRY
        await self._pacer.wait(channel)
        lease = f"sending {self.consumer}"
        if not await self._take(record, lease):
            # Being sent by another consumer: leave it where it is.
            return Outcome.DONE if await self._settle(record) else Outcome.RETRY
        try:
            async with self._leased(record, lease):
                await self.deliverer.deliver(fields)
        except DeliveryFailed as exc:
            await self._release(record, lease)
            return await self._refused(fields, exc, probing=probing)
        except Exception as exc:  # the per-delivery boundary: a bug or an outage, never a lost post
            log.exception("delivery failed unexpectedly; will retry", extra={"delivery": delivery})
            with contextlib.suppress(RedisError):
                await self._release(record, lease)
                return await self._failed(fields, f"unexpected: {exc!r}", None)
            return Outcome.RETRY
        await self._sent(fields, record)
        return Outcome.DONE

    async def _sent(self, fields: Mapping[str, str], record: str) -> None:
        delivery = fields.get("delivery", "")
        # Two lines per delivery, so that a double post can be told apart: one sent without
        # "recorded" after it is the one window docs/contracts.md allows (see bench/crash.py).
        log.info("delivery sent", extra={"delivery": delivery, **_contents(fields)})
        await replicated(self.client, record, lambda pipe: pipe.set(record, SENT, ex=self.ttl))
        log.info("delivery recorded", extra={"delivery": delivery})
        await self._holds.forget_attempts(fields.get("channel", ""), delivery)

    async def _refused(
        self, fields: Mapping[str, str], exc: DeliveryFailed, *, probing: bool
    ) -> Outcome:
        if exc.refusal.holds_channel:
            return await self._hold(fields, exc, probing=probing)
        if exc.refusal is Refusal.MESSAGE:
            return await self._plain_retry(fields, exc, probing=probing)
        return await self._failed(fields, str(exc), exc.retry_after, counts=exc.counts)

    async def _failed(
        self,
        fields: Mapping[str, str],
        reason: str,
        retry_after: float | None,
        *,
        counts: bool = True,
    ) -> Outcome:
        """A transient failure: retry after the platform's wait or the backoff, until the
        attempts are used up; the channel's later deliveries wait behind it."""
        channel, delivery = fields.get("channel", ""), fields.get("delivery", "")
        wait = retry_after or RETRY_WITHOUT_AFTER
        if counts:
            now = self.clock()
            tried = await self._holds.attempt(channel, delivery, now)
            if tried.count >= self.max_attempts and now - tried.first >= self.dead_after:
                await self._dead(fields, reason, tried.count)
                return Outcome.DONE
            wait = retry_after or backoff(tried.count)
        log.warning(
            "delivery refused; will retry",
            extra={"delivery": delivery, "error": reason, "retry_in": wait},
        )
        await self._pacer.hold(channel, wait)
        return Outcome.RETRY

    async def _plain_retry(
        self, fields: Mapping[str, str], exc: DeliveryFailed, *, probing: bool
    ) -> Outcome:
        """The platform refused the message itself: once more as plain text, then it is a
        dead letter. Either way it no longer holds the channel's other deliveries."""
        delivery = fields.get("delivery", "")
        record = self.keys.delivered(short_hash(delivery))
        lease = f"sending {self.consumer}"
        if not await self._take(record, lease):
            return Outcome.DONE if await self._settle(record) else Outcome.RETRY
        log.warning(
            "the platform refuses a message; sending it as plain text",
            extra={"delivery": delivery, "error": str(exc)},
        )
        try:
            async with self._leased(record, lease):
                await self.deliverer.deliver(fields, plain=True)
        except DeliveryFailed as again:
            await self._release(record, lease)
            if again.refusal is Refusal.MESSAGE:
                await self._dead(fields, f"{exc}; as plain text: {again}", 2)
                return Outcome.DONE
            return await self._refused(fields, again, probing=probing)
        except Exception:
            await self._release(record, lease)
            raise
        await self._sent(fields, record)
        return Outcome.DONE

    async def _dead(self, fields: Mapping[str, str], reason: str, attempts: int) -> None:
        log.error(
            "delivery dead-lettered",
            extra={
                "delivery": fields.get("delivery", ""),
                "error": reason,
                "attempts": attempts,
                **_contents(fields),
            },
        )
        await self._holds.dead_letter(fields, reason=reason, attempts=attempts, now=self.clock())

    async def _hold(
        self, fields: Mapping[str, str], exc: DeliveryFailed, *, probing: bool
    ) -> Outcome:
        """The channel refuses: hold it with this delivery (already held when probing)."""
        channel = fields.get("channel", "")
        now = self.clock()
        if probing:
            await self._holds.probe_at(channel, now + self.probe_every)
            log.info(
                "a held channel still refuses",
                extra={
                    "channel": channel,
                    "delivery": fields.get("delivery", ""),
                    "error": str(exc),
                    "probe_in": self.probe_every,
                },
            )
            return Outcome.HELD
        new = await self._holds.start(
            channel,
            fields,
            reason=str(exc),
            refusal=exc.refusal.value,
            now=now,
            probe_at=now + self.probe_every,
        )
        log.log(
            logging.ERROR if new else logging.INFO,
            "the platform refuses a channel; its deliveries are held",
            extra={
                "channel": channel,
                "delivery": fields.get("delivery", ""),
                "error": str(exc),
                "refusal": exc.refusal.value,
            },
        )
        if new:
            try:
                await self.deliverer.tell_refused(ChannelRef.parse(channel), str(exc))
            except Exception:  # telling is a courtesy: the hold stands either way
                log.warning("could not tell anyone that a channel refuses", exc_info=True)
        return Outcome.HELD

    async def release(self, channel: str, stop: asyncio.Event | None = None) -> bool:
        """Probe a held channel: send its held deliveries, grouped, in order. True when the
        hold is over; False when the channel still refuses (or must wait)."""
        lease = self.send_lease * 2
        if not await self._holds.lease(channel, self.consumer, lease):
            return False
        try:
            for _round in range(100):
                held = await self._holds.snapshot(channel)
                for fields in group_held(held, burst=self.burst):
                    if stop is not None and stop.is_set():
                        return False
                    await self._holds.renew(channel, lease)
                    outcome = await self.deliver(fields, probing=True)
                    if outcome is not Outcome.DONE:
                        if outcome is Outcome.RETRY:
                            wait = await self._pacer.wait_for(channel)
                            await self._holds.probe_at(channel, self.clock() + max(wait, 1.0))
                        return False
                if await self._holds.released(channel, len(held)):
                    log.info(
                        "a held channel works again; its held deliveries went out",
                        extra={"channel": channel, "released": len(held)},
                    )
                    return True
            return False
        finally:
            await self._holds.unlease(channel)

    async def release_due(self, stop: asyncio.Event | None = None) -> int:
        """Probe every held channel whose probe is due; how many holds ended."""
        due = await self._holds.due(self.deliverer.platform, self.clock())
        ended = await asyncio.gather(*(self._release_quietly(c, stop) for c in due))
        return sum(ended)

    async def _release_quietly(self, channel: str, stop: asyncio.Event | None) -> bool:
        try:
            return await self.release(channel, stop)
        except Exception:
            log.warning(
                "cannot release a held channel now", exc_info=True, extra={"channel": channel}
            )
            with contextlib.suppress(RedisError):
                await self._holds.probe_at(channel, self.clock() + RETRY_WITHOUT_AFTER)
            return False

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
        return await streams.read_group(
            self.blocking, self.stream, GROUP, self.consumer, start, count=READ_COUNT
        )

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
        released = await self.release_due(stop)
        handled, _complete = await self.deliver_batch(await self._pending(), stop)
        handled += released
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
        last_cleanup = last_sweep = 0.0
        forwarder = Forwarder(self.client, self.keys)
        while not stop.is_set():
            try:
                if time.monotonic() - last_sweep > SWEEP_EVERY:
                    last_sweep = time.monotonic()
                    # What a crash left behind: queued deliveries, a hold without a probe.
                    channels = await forwarder.channels_of(self.deliverer.platform)
                    await forwarder.sweep_channels(channels)
                    await self._holds.ensure_probes(channels, self.clock() + self.probe_every)
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
