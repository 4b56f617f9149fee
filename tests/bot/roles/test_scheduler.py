"""The digest scheduler with an injected clock: slots, catch-up, races, quiet days."""

from __future__ import annotations

import asyncio
import io
import json
from datetime import UTC, datetime, timedelta

from bot.platforms.console_adapter import ConsoleDeliverer
from bot.roles.outbox import OutboxConsumer
from bot.roles.pipeline import build_pipeline
from bot.roles.scheduler import Scheduler, run_scheduler
from bot.settings import Settings
from bot.store.connection import RedisHandle, open_redis
from bot.store.subscriptions import SubscriptionStore
from handlers.channels import ChannelRef
from tests.articles import article
from tests.fakes.redis_cluster import command_calls, reset_command_stats

CHANNEL = ChannelRef("console", "local", "main")
START = datetime(2026, 11, 27, 7, tzinfo=UTC)  # a Friday, 08:00 in Berlin
TTL = 30 * 86400


class Clock:
    def __init__(self, moment: datetime) -> None:
        self.moment = moment

    def __call__(self) -> float:
        return self.moment.timestamp()


async def setup(handle: RedisHandle, clock: Clock, *, stories: int = 3, **settings: str) -> None:
    store = SubscriptionStore(handle.client, handle.keys)
    await store.subscribe(CHANNEL, "f1", now=0)
    await store.set_channel(
        CHANNEL,
        schedule=settings.get("schedule", "daily 09:00 Europe/Berlin"),
        quiet_message=settings.get("quiet"),
    )
    await arrive(handle, clock, [f"Headline {n} today" for n in range(stories)])


async def arrive(handle: RedisHandle, clock: Clock, titles: list[str], tag: str = "e") -> None:
    """Stories with these titles come in now, the first the newest, a minute apart."""
    pipeline = build_pipeline(handle.client, handle.keys, ttl=TTL, clock=clock)
    await pipeline.process(
        [
            article(
                entry_key=f"{tag}{n}",
                url=f"https://n.example.com/{tag}{n}",
                title=title,
                published=clock.moment - timedelta(minutes=n),
                seen_at=clock.moment,
            )
            for n, title in enumerate(titles)
        ]
    )


async def outbox(handle: RedisHandle) -> list[dict[str, str]]:
    return [f for _id, f in await handle.client.xrange(handle.keys.outbox("console"))]


async def test_a_digest_at_its_slot_then_the_next_day(handle: RedisHandle) -> None:
    clock = Clock(START)
    await setup(handle, clock)
    scheduler = Scheduler(handle.client, handle.keys, clock=clock)
    due = await scheduler.ensure_scheduled(CHANNEL)
    assert due == datetime(2026, 11, 27, 8, tzinfo=UTC).timestamp()
    assert await scheduler.run_due() == []
    clock.moment = datetime(2026, 11, 27, 8, 0, 5, tzinfo=UTC)
    [outcome] = await scheduler.run_due()
    assert outcome.posted and outcome.stories == 3
    assert outcome.delivery == f"{CHANNEL}|digest|{int(due)}"
    [message] = await outbox(handle)
    assert message["kind"] == "digest" and len(json.loads(message["stories"])) == 3
    assert await handle.client.zcard(handle.keys.channel_pending(str(CHANNEL))) == 0
    assert (
        await handle.client.zscore(handle.keys.digests_due, str(CHANNEL))
        == datetime(2026, 11, 28, 8, tzinfo=UTC).timestamp()
    )


async def test_downtime_gives_one_catch_up_digest(handle: RedisHandle) -> None:
    clock = Clock(START)
    await setup(handle, clock)
    scheduler = Scheduler(handle.client, handle.keys, clock=clock)
    await scheduler.ensure_scheduled(CHANNEL)
    clock.moment = START + timedelta(days=3, hours=5)  # back after three missed slots
    assert len(await scheduler.run_due()) == 1
    assert await scheduler.run_due() == []
    assert len(await outbox(handle)) == 1


async def test_two_schedulers_never_post_the_same_digest(handle: RedisHandle) -> None:
    clock = Clock(START)
    await setup(handle, clock)
    schedulers = [Scheduler(handle.client, handle.keys, clock=clock) for _ in range(4)]
    await schedulers[0].ensure_scheduled(CHANNEL)
    clock.moment = START + timedelta(hours=2)
    outcomes = await asyncio.gather(*(s.run_due() for s in schedulers))
    assert sum(len(o) for o in outcomes) == 1 and len(await outbox(handle)) == 1


async def test_digests_built_at_the_same_moment_share_no_story(
    handle: RedisHandle, settings: Settings
) -> None:
    """A `/news digest` racing the scheduled one (here: two processes, each with its own
    connection, building at once, many times over) never puts a story in both."""
    clock = Clock(START)
    await setup(handle, clock, stories=0)
    async with open_redis(settings) as other:
        racers = [Scheduler(c.client, c.keys, clock=clock) for c in (handle, other)]
        for round_ in range(30):
            clock.moment += timedelta(minutes=1)
            titles = [f"Story {round_} {n} {'abcdefghij'[n]} headline" for n in range(3)]
            await arrive(handle, clock, titles, tag=f"r{round_}-")
            await asyncio.gather(*(racer.post_now(CHANNEL) for racer in racers))
    # Both racers forward the channel's queue, so a digest can reach the stream twice;
    # the outbox sends a delivery id once, so count each id once (its copies are equal).
    by_id: dict[str, list[str]] = {}
    for message in await outbox(handle):
        if message["kind"] == "digest":
            stories = json.loads(message["stories"])
            assert by_id.setdefault(message["delivery"], stories) == stories
    delivered = [story for stories in by_id.values() for story in stories]
    assert len(delivered) == len(set(delivered)) == 90
    assert await handle.client.zcard(handle.keys.channel_pending(str(CHANNEL))) == 0


async def test_a_crash_after_queueing_repeats_the_same_delivery_id(handle: RedisHandle) -> None:
    clock = Clock(START)
    await setup(handle, clock)
    scheduler = Scheduler(handle.client, handle.keys, clock=clock)
    await scheduler.ensure_scheduled(CHANNEL)
    clock.moment = START + timedelta(hours=2)
    slot = await handle.client.hget(handle.keys.channel(str(CHANNEL)), "slot")
    first = await scheduler.build(CHANNEL)
    await handle.client.hset(handle.keys.channel(str(CHANNEL)), "slot", slot)  # died before this
    again = await scheduler.build(CHANNEL)
    assert first.delivery == again.delivery, "the outbox consumer drops the repeat by its id"


async def test_empty_days_post_nothing_or_the_quiet_message(handle: RedisHandle) -> None:
    clock = Clock(START)
    await setup(handle, clock, stories=0)
    scheduler = Scheduler(handle.client, handle.keys, clock=clock)
    await scheduler.ensure_scheduled(CHANNEL)
    clock.moment = START + timedelta(hours=2)
    [outcome] = await scheduler.run_due()
    assert not outcome.posted and await outbox(handle) == []
    await SubscriptionStore(handle.client, handle.keys).set_channel(
        CHANNEL, quiet_message="Nothing new today."
    )
    clock.moment += timedelta(days=1)
    [outcome] = await scheduler.run_due()
    [message] = await outbox(handle)
    assert outcome.posted and message == {
        "delivery": outcome.delivery,
        "channel": str(CHANNEL),
        "kind": "quiet",
        "text": "Nothing new today.",
    }


async def test_off_removes_the_channel_from_the_schedule(handle: RedisHandle) -> None:
    clock = Clock(START)
    await setup(handle, clock, schedule="off")
    scheduler = Scheduler(handle.client, handle.keys, clock=clock)
    assert await scheduler.ensure_scheduled(CHANNEL) is None
    assert await handle.client.zcard(handle.keys.digests_due) == 0


async def test_the_console_prints_a_queued_digest(handle: RedisHandle) -> None:
    clock = Clock(START)
    await setup(handle, clock)
    scheduler = Scheduler(handle.client, handle.keys, clock=clock)
    await scheduler.ensure_scheduled(CHANNEL)
    clock.moment = START + timedelta(hours=2)
    await scheduler.run_due()
    out = io.StringIO()
    drain = OutboxConsumer(
        client=handle.client,
        blocking=handle.blocking,
        keys=handle.keys,
        deliverer=ConsoleDeliverer(handle.client, handle.keys, out=out),
        consumer="test",
        ttl=TTL,
    )
    assert await drain.drain() == 1
    text = out.getvalue()
    assert text.startswith("[console:local:main] News digest, Fri 27 Nov 2026")
    assert text.index("Headline 0 today") < text.index("Headline 2 today")


async def test_one_bad_channel_never_stops_the_others_digests(handle: RedisHandle) -> None:
    """A never-firing cron stored by an older version, and a channel id that cannot be read,
    are logged and skipped; every other channel still gets its digest."""
    clock = Clock(START)
    await setup(handle, clock)
    store = SubscriptionStore(handle.client, handle.keys)
    bad = ChannelRef("console", "local", "bad")
    await store.subscribe(bad, "f1", now=0)
    await handle.client.hset(handle.keys.channel(str(bad)), "schedule", "0 9 30 2 *")
    await handle.client.sadd(handle.keys.channels, "not a channel")
    scheduler = Scheduler(handle.client, handle.keys, clock=clock)
    await scheduler.ensure_scheduled(CHANNEL)
    clock.moment = datetime(2026, 11, 27, 8, 0, 5, tzinfo=UTC)
    stop = asyncio.Event()
    task = asyncio.create_task(
        run_scheduler(scheduler, handle.client, handle.keys, stop, tick=0.05)
    )
    for _ in range(100):
        if await outbox(handle):
            break
        await asyncio.sleep(0.05)
    assert not task.done(), "the scheduler role ended"
    stop.set()
    await asyncio.wait_for(task, timeout=5)
    assert [m["channel"] for m in await outbox(handle)] == [str(CHANNEL)]


async def test_the_heading_has_the_date_in_the_schedules_zone(handle: RedisHandle) -> None:
    # 09:00 on Wednesday 2 December in Auckland is 20:00 on Tuesday 1 December in UTC.
    clock = Clock(datetime(2026, 12, 1, 19, tzinfo=UTC))
    await setup(handle, clock, schedule="daily 09:00 Pacific/Auckland")
    scheduler = Scheduler(handle.client, handle.keys, clock=clock)
    assert (
        await scheduler.ensure_scheduled(CHANNEL)
        == datetime(2026, 12, 1, 20, tzinfo=UTC).timestamp()
    )
    clock.moment = datetime(2026, 12, 1, 20, 0, 5, tzinfo=UTC)
    [outcome] = await scheduler.run_due()
    assert outcome.posted
    [message] = await outbox(handle)
    assert message["heading"] == "News digest, Wed 02 Dec 2026"


async def test_keeping_many_channels_scheduled_costs_a_few_commands(handle: RedisHandle) -> None:
    """Every tick checks every channel: one ZMSCORE for all of them, not two round trips a
    channel; only those off the schedule have their subscriptions read (in one pipeline)."""
    subscriptions = SubscriptionStore(handle.client, handle.keys)
    channels = [f"slack:T1:C{n}" for n in range(50)]
    for number, channel in enumerate(channels):
        mode = "instant" if number % 10 == 0 else "digest"
        await subscriptions.subscribe(ChannelRef.parse(channel), "f1", now=0, mode=mode)
    scheduler = Scheduler(handle.client, handle.keys)
    await scheduler.ensure_all_scheduled(channels)
    assert await handle.client.zcard(handle.keys.digests_due) == 45, "instant-only: not"
    await reset_command_stats(handle.client)
    await scheduler.ensure_all_scheduled(channels)
    calls = await command_calls(handle.client)
    assert calls.get("zmscore") == 1 and calls.get("hvals") == 5, calls
    assert not {"zscore", "hgetall", "zadd"} & calls.keys(), calls
