"""Issue #21, item 4: each state change and the delivery it makes are one atomic step,
so no crash and no race loses or doubles a story: routing claims and queues together, a
digest moves its slot on in the transaction that queues it, a channel alert is recorded
and queued together, and what a step queued on its channel is forwarded idempotently."""

from __future__ import annotations

import asyncio
import contextlib
import json
from datetime import UTC, datetime, timedelta

from redis.exceptions import RedisError, ResponseError

from bot.roles.routing import Routable, Router
from bot.roles.scheduler import Scheduler
from bot.store.alerts import Alert, AlertStore, Match
from bot.store.connection import RedisHandle
from bot.store.forwarding import Forwarder
from bot.store.subscriptions import SubscriptionStore
from handlers.channels import ChannelRef, Subscription
from tests.bot.roles.test_scheduler import CHANNEL, START, Clock, arrive, setup

SLACK = ChannelRef("slack", "T1", "C1")


def routable(story: str, when: float) -> Routable:
    return Routable(story, when, "f1", {"title": story, "source": "Wire"})


async def queued(handle: RedisHandle, platform: str) -> list[dict[str, str]]:
    return [f for _id, f in await handle.client.xrange(handle.keys.outbox(platform))]


def stories_in(messages: list[dict[str, str]]) -> list[str]:
    found = []
    for m in messages:
        found += json.loads(m["stories"]) if m["kind"] == "digest" else [m["story"]]
    return found


async def test_racing_routers_route_each_story_to_a_channel_once(handle: RedisHandle) -> None:
    """Many workers route overlapping batches at once: a burst against single posts, and
    an instant against a digest subscription of the same channel."""
    instant = Subscription(SLACK, "f1", mode="instant")
    digest = Subscription(SLACK, "f2", mode="digest")
    now = START.timestamp()
    for round_ in range(5):
        ids = [f"r{round_}s{n}" for n in range(8)]
        batches = [
            [(instant, routable(ids[0], now))],  # a single post
            [(instant, routable(i, now + n)) for n, i in enumerate(ids)],  # a burst
            [(digest, routable(i, now + n)) for n, i in enumerate(ids[::2])],  # digest
            [(instant, routable(i, now + n)) for n, i in enumerate(ids[3:6])],
        ]
        routers = [
            Router(handle.client, handle.keys, ttl=86400, clock=lambda: now) for _ in batches
        ]
        await asyncio.gather(*(r.route(b) for r, b in zip(routers, batches, strict=True)))
    # Racing forwarders may put one delivery on the stream twice; the outbox sends a
    # delivery id once, so count each id once.
    deliveries = {m["delivery"]: m for m in await queued(handle, "slack")}
    out = stories_in(list(deliveries.values()))
    pending = await handle.client.zrange(handle.keys.channel_pending(str(SLACK)), 0, -1)
    every = [f"r{r}s{n}" for r in range(5) for n in range(8)]
    assert sorted(out + pending) == sorted(every), "each story once, under one delivery"


async def test_a_crash_after_the_digest_commits_loses_and_doubles_nothing(
    handle: RedisHandle,
) -> None:
    """The process dies (here: Redis fails) after the digest's transaction and before
    ``digests:due`` moved on. Its replacement must not post the digest again, nor take the
    next digest's stories for a duplicate of it."""
    clock = Clock(START)
    await setup(handle, clock)

    class DiesAfterCommit(Scheduler):
        async def reschedule(self, channel: ChannelRef) -> float | None:
            raise RedisError("connection lost")

    await Scheduler(handle.client, handle.keys, clock=clock).ensure_scheduled(CHANNEL)
    clock.moment = datetime(2026, 11, 27, 8, 0, 5, tzinfo=UTC)
    with contextlib.suppress(RedisError):
        await DiesAfterCommit(handle.client, handle.keys, clock=clock, lease=60).run_due()
    [first] = await queued(handle, "console")
    await arrive(handle, clock, ["Evening headline arrives later"], tag="late")
    survivor = Scheduler(handle.client, handle.keys, clock=clock, lease=60)
    clock.moment += timedelta(minutes=2)  # the dead process's lease lapsed
    assert [o.posted for o in await survivor.run_due()] == [False], "not posted again"
    assert len(await queued(handle, "console")) == 1
    clock.moment = datetime(2026, 11, 28, 8, 0, 5, tzinfo=UTC)  # the next slot
    [outcome] = await survivor.run_due()
    assert outcome.posted and outcome.delivery != first["delivery"]
    first_digest, second_digest = await queued(handle, "console")
    assert len(json.loads(first_digest["stories"])) == 3
    assert len(json.loads(second_digest["stories"])) == 1, "the late story is not lost"


async def test_a_channel_alert_is_recorded_and_queued_in_one_step(handle: RedisHandle) -> None:
    """The forward after the record fails (the stream key is broken): the match is not
    lost, it waits on its channel and the next sweep forwards it, once."""
    store = AlertStore(handle.client, handle.keys)
    alert = Alert("a1", "slack", "T1", "U1", str(SLACK), "harbour", channel=str(SLACK))
    await handle.client.hset(handle.keys.alerts, "a1", alert.to_json())
    await handle.client.set(handle.keys.outbox("slack"), "not a stream")
    match = Match("a1", "s1", ("harbour",))
    with contextlib.suppress(ResponseError):
        await store.record([(alert, match)], now=1.0)  # the forward fails
    await handle.client.delete(handle.keys.outbox("slack"))
    assert await handle.client.llen(handle.keys.channel_out(str(SLACK))) == 1, "it waits"
    forwarder = Forwarder(handle.client, handle.keys)
    assert await forwarder.sweep("slack") == 1
    assert await forwarder.sweep("slack") == 0
    [message] = await queued(handle, "slack")
    assert message["delivery"] == "alert:a1:s1" and message["channel"] == str(SLACK)
    assert json.loads(message["items"]) == [{"a": "a1", "s": "s1", "w": ["harbour"]}]


async def test_what_a_crash_left_on_a_channel_is_forwarded_by_the_sweep(
    handle: RedisHandle,
) -> None:
    await SubscriptionStore(handle.client, handle.keys).subscribe(SLACK, "f1", now=0)
    message = {"delivery": f"{SLACK}|story|s1", "channel": str(SLACK), "kind": "story"}
    await handle.client.rpush(
        handle.keys.channel_out(str(SLACK)), json.dumps({**message, "story": "s1"})
    )
    forwarder = Forwarder(handle.client, handle.keys)
    assert await forwarder.sweep("discord") == 0, "another platform's channels"
    assert await forwarder.sweep("slack") == 1
    assert [m["delivery"] for m in await queued(handle, "slack")] == [message["delivery"]]
    assert await handle.client.llen(handle.keys.channel_out(str(SLACK))) == 0
