"""The digest scheduler: builds each channel's digest when its schedule says, exactly once.

Channels wait in ``digests:due`` scored by their next due time. One Lua script claims the
due ones and leases them, so any number of processes share the work and two never build the
same digest. A digest's delivery id is channel plus slot (the due time it was built for,
kept in the channel's hash). One transaction on the channel's keys queues the digest (in
the channel's deliveries, then forwarded: `bot.store.forwarding`), takes its stories out of
the pending set and moves the slot on to the schedule's next time after now, marking the
channel ``rescheduling``; only then is ``digests:due`` moved on and the mark cleared. A
process that dies before the transaction is replaced and builds the same slot again (the
same delivery id: posted once); one that dies after it leaves the mark, and its replacement
only puts the channel back on the schedule: no digest twice, and none of the next digest's
stories taken for a duplicate. A bot that was down for three slots posts one catch-up digest.

What goes in: the channel's pending stories (see `bot.roles.routing`), ranked and capped by
`handlers.digest`; all of them leave the pending set, so those over the cap do not roll
into the next digest. An empty digest posts nothing, or the channel's quiet-day message.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import cast

from redis.asyncio import Redis
from redis.exceptions import RedisError, WatchError

from bot.settings import Settings
from bot.stopping import sleep_unless_stopped
from bot.store.audience import AudienceStore
from bot.store.batch import lua
from bot.store.forwarding import Forwarder, enqueue
from bot.store.keys import Keys
from bot.store.stories import load_stories
from bot.store.story_marks import StoryMarks
from bot.store.subscriptions import SubscriptionStore
from handlers.channels import ChannelRef, Subscription
from handlers.digest import DEFAULT_CAP, Digest, build_digest, deliverable
from handlers.outbox_message import OutboxMessage
from handlers.ranking import RANK, order_of
from handlers.schedule import Schedule, ScheduleError, parse_schedule
from handlers.visibility import project_all

log = logging.getLogger(__name__)

# How long a claimed digest stays claimed: a process that dies while building it is
# replaced after this (NEWSBOT_CLAIM_IDLE; building takes well under a second).
LEASE = 60.0
COMMIT_ATTEMPTS = 20
_CLAIM_DUE = lua(
    """
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'WITHSCORES', 'LIMIT', 0,
                       tonumber(ARGV[2]))
for i = 1, #due, 2 do
  redis.call('ZADD', KEYS[1], 'XX', ARGV[3], due[i])
end
return due
"""
)


@dataclass(frozen=True)
class DigestOutcome:
    """What one scheduled run did for one channel."""

    channel: str
    delivery: str
    stories: int
    posted: bool


class Scheduler:
    """Schedules and builds digests; share one Redis between any number of schedulers."""

    def __init__(
        self,
        client: Redis,
        keys: Keys,
        *,
        default_zone: str = "UTC",
        clock: Callable[[], float] = time.time,
        cap: int = DEFAULT_CAP,
        lease: float = LEASE,
        visibility: bool = True,
    ) -> None:
        self._lease = lease
        self._client = client
        self._keys = keys
        self._zone = default_zone
        self._clock = clock
        self._cap = cap
        self._subscriptions = SubscriptionStore(client, keys)
        self._audiences = AudienceStore(client, keys, clock=clock)
        self._audiences.enabled = visibility  # off only for the benchmarks' baseline
        self._marks = StoryMarks(client, keys, clock=clock)
        self._claim = client.register_script(_CLAIM_DUE)
        self._forwarder = Forwarder(client, keys)

    def schedule_of(self, settings: dict[str, str]) -> Schedule:
        """The channel's schedule from its settings (the default when none or unreadable)."""
        text = settings.get("schedule") or "daily 09:00"
        try:
            return parse_schedule(text, default_zone=self._zone)
        except ScheduleError:
            log.warning("bad stored schedule; using the default", extra={"schedule": text})
            return parse_schedule("daily 09:00", default_zone=self._zone)

    async def ensure_scheduled(self, channel: ChannelRef) -> float | None:
        """Put a channel with digest subscriptions on the schedule, if it is not yet."""
        subs = await self._subscriptions.of_channel(channel)
        if not any(s.mode == "digest" for s in subs):
            return None
        current = await self._client.zscore(self._keys.digests_due, str(channel))
        if current is not None:
            return float(current)
        return await self.reschedule(channel)

    async def ensure_all_scheduled(self, channels: Sequence[str]) -> None:
        """`ensure_scheduled` for many channels in a few round trips: one ZMSCORE for all,
        then the subscriptions of those off the schedule in one pipeline; only channels
        with digest subscriptions that are off it are rescheduled one by one."""
        if not channels:
            return
        scores = await self._client.zmscore(self._keys.digests_due, list(channels))
        off = [c for c, score in zip(channels, scores, strict=True) if score is None]
        if not off:
            return
        async with self._client.pipeline(transaction=False) as pipe:
            for channel in off:
                pipe.hvals(self._keys.channel_subs(channel))
            rows = await pipe.execute()
        for channel, subs in zip(off, rows, strict=True):
            try:
                if any(Subscription.from_json(str(s)).mode == "digest" for s in subs):
                    await self.reschedule(ChannelRef.parse(channel))
            except RedisError:
                raise
            except Exception:  # the per-channel boundary: one bad channel stops no other
                log.exception("cannot schedule a channel", extra={"channel": channel})

    def _next_slot(self, settings: dict[str, str]) -> float | None:
        now = datetime.fromtimestamp(self._clock(), UTC)
        due = self.schedule_of(settings).next_after(now)
        return None if due is None else due.timestamp()

    async def reschedule(self, channel: ChannelRef) -> float | None:
        """Set the channel's next digest from its schedule (None: off, or nothing to digest)."""
        settings = await self._subscriptions.channel_settings(channel)
        subs = await self._subscriptions.of_channel(channel)
        now = datetime.fromtimestamp(self._clock(), UTC)
        due = self.schedule_of(settings).next_after(now)
        key = self._keys.channel(str(channel))
        if due is None or not any(s.mode == "digest" for s in subs):
            await self._client.zrem(self._keys.digests_due, str(channel))
            await self._client.hdel(key, "slot", "rescheduling")
            return None
        await self._client.hset(key, "slot", str(int(due.timestamp())))
        await self._client.zadd(self._keys.digests_due, {str(channel): due.timestamp()})
        await self._client.hdel(key, "rescheduling")
        return due.timestamp()

    async def run_due(self, *, limit: int = 50) -> list[DigestOutcome]:
        """Claim the channels whose digest is due and build each one."""
        now = self._clock()
        claimed = await self._claim(
            keys=[self._keys.digests_due], args=[now, limit, now + self._lease]
        )
        outcomes = []
        for index in range(0, len(claimed), 2):
            name = str(claimed[index])
            try:
                outcomes.append(await self.build(ChannelRef.parse(name)))
            except RedisError:
                raise
            except Exception:  # the per-channel boundary: its lease retries it later
                log.exception("cannot build a channel's digest", extra={"channel": name})
        return outcomes

    async def preview(self, channel: ChannelRef) -> Digest:
        """The digest the channel would get now, as it may see it; nothing is queued or
        cleared."""
        settings = cast(
            dict[str, str], await self._client.hgetall(self._keys.channel(str(channel)))
        )
        pending_key = self._keys.channel_pending(str(channel))
        pending = [str(i) for i in await self._client.zrange(pending_key, 0, -1)]
        digest, _message = await self._compose(channel, settings, "", pending, quiet=False)
        return digest

    async def post_now(self, channel: ChannelRef) -> DigestOutcome:
        """`/news digest`: queue the digest now and start a new window; the schedule stays."""
        return await self.build(channel, slot=f"now{int(self._clock() * 1000)}")

    async def build(self, channel: ChannelRef, *, slot: str | None = None) -> DigestOutcome:
        """Queue the channel's digest on the outbox and clear its pending set. A scheduled
        build (no `slot` given) uses the stored slot and reschedules the channel.

        The pending set is watched from reading to clearing: when another build (a
        `/news digest` racing the schedule) or routing changes it in between, this build
        starts over, so no story goes into two digests."""
        key = self._keys.channel(str(channel))
        pending_key = self._keys.channel_pending(str(channel))
        settings = cast(dict[str, str], await self._client.hgetall(key))
        scheduled = slot is None
        slot = slot or settings.get("slot") or str(int(self._clock()))
        if scheduled and settings.get("rescheduling"):
            # Built and committed already (the slot moved on), then the process died
            # before `digests:due` did: only put the channel back on its schedule.
            await self.reschedule(channel)
            return DigestOutcome(str(channel), "", 0, False)
        next_slot = self._next_slot(settings) if scheduled else None
        delivery = f"{channel}|digest|{slot}"
        for _attempt in range(COMMIT_ATTEMPTS):
            async with self._client.pipeline(transaction=True) as pipe:
                try:
                    await pipe.watch(pending_key, key)
                    pending = [str(i) for i in await pipe.zrange(pending_key, 0, -1)]
                    digest, message = await self._compose(
                        channel, settings, delivery, pending, quiet=scheduled
                    )
                    pipe.multi()  # type: ignore[no-untyped-call]
                    if message is not None:
                        enqueue(pipe, self._keys, message)
                    if pending:
                        pipe.zrem(pending_key, *pending)
                        # Routed here too, in case routing queued one and stopped before it
                        # claimed it: its retry then sees the story is taken.
                        routed = self._keys.channel_routed(str(channel))
                        pipe.zadd(routed, dict.fromkeys(pending, self._clock()), nx=True)
                    pipe.hset(key, "last_digest", str(int(self._clock())))
                    if scheduled:
                        # The next slot, and a mark that `digests:due` has yet to follow.
                        pipe.hset(key, "rescheduling", "1")
                        if next_slot is not None:
                            pipe.hset(key, "slot", str(int(next_slot)))
                    await pipe.execute()
                    break
                except WatchError:
                    log.debug(
                        "pending stories changed while building; again",
                        extra={"channel": str(channel)},
                    )
        else:
            raise RedisError(f"{channel}: pending stories kept changing while building its digest")
        await self._forwarder.forward([str(channel)])
        if scheduled:
            await self.reschedule(channel)
        log.info(
            "digest built",
            extra={
                "channel": str(channel),
                "delivery": delivery,
                "stories": len(digest.items),
                "more": digest.more,
            },
        )
        return DigestOutcome(str(channel), delivery, len(digest.items), message is not None)

    async def _compose(
        self,
        channel: ChannelRef,
        settings: dict[str, str],
        delivery: str,
        pending: list[str],
        *,
        quiet: bool,
    ) -> tuple[Digest, dict[str, str] | None]:
        """The digest of `pending` and the outbox message for it (None: nothing to post).
        An empty digest posts the channel's quiet message only when `quiet` (a scheduled
        slot: once, by its delivery id); `/news digest` never posts it."""
        muted = {story for _, story in await self._marks.muted({str(channel): pending})}
        shown = [story for story in pending if story not in muted]
        stories = deliverable(await load_stories(self._client, self._keys, shown))
        audience, subscriptions = await self._audiences.with_subscriptions(channel)
        items = project_all(stories, audience)
        now = datetime.fromtimestamp(self._clock(), UTC)
        since = datetime.fromtimestamp(float(settings.get("last_digest") or 0), UTC)
        priorities = {s.feed_id: s.priority for s in subscriptions}
        local = now.astimezone(self.schedule_of(settings).tz)  # the date where it is read
        weights: dict[str, float] = {}
        chosen = settings.get(RANK)
        order = order_of(chosen, 0)
        if chosen in (None, "", "smart") and items:
            weights, marks = await self._marks.weights(channel)
            order = order_of(chosen, marks)
        digest = build_digest(
            items,
            heading=f"News digest, {local:%a %d %b %Y}",
            since=since,
            now=now,
            cap=self._cap,
            priorities=priorities,
            order=order,
            weights=weights,
        )
        if not digest.empty:
            ids = [item.story_id for item in digest.items]
            message = OutboxMessage.digest(
                delivery, str(channel), ids, heading=digest.heading, more=digest.more
            )
            return digest, message.fields()
        if quiet and settings.get("quiet_message"):
            quiet_day = OutboxMessage.line(
                delivery, str(channel), "quiet", settings["quiet_message"]
            )
            return digest, quiet_day.fields()
        return digest, None


def scheduler_for(
    settings: Settings, client: Redis, keys: Keys, *, clock: Callable[[], float] = time.time
) -> Scheduler:
    """The scheduler the scheduler role and `/news digest` share: one configuration."""
    return Scheduler(
        client, keys, default_zone=settings.timezone, clock=clock, lease=settings.claim_idle
    )


async def run_scheduler(
    scheduler: Scheduler, client: Redis, keys: Keys, stop: asyncio.Event, *, tick: float = 5.0
) -> None:
    """The scheduler role: keep every channel on its schedule and build due digests."""
    pause = tick
    while not stop.is_set():
        try:
            channels = sorted(str(c) for c in await client.smembers(keys.channels))
            await scheduler.ensure_all_scheduled(channels)
            await scheduler.run_due()
            pause = tick
        except RedisError as exc:
            log.warning("scheduler cannot reach Redis; retrying", extra={"error": str(exc)})
            pause = min(pause * 2, 60.0)
        await sleep_unless_stopped(stop, pause)
