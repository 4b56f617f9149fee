"""Routing stories to channels: pending digest items, instant outbox entries, each once."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from redis.asyncio.client import Pipeline
from redis.exceptions import ConnectionError as RedisConnectionError

from bot.roles.channel_cleanup import sweep_refused
from bot.roles.pipeline import build_pipeline
from bot.roles.routing import PENDING_MAX, Routable, Router
from bot.store.connection import RedisHandle
from bot.store.holds import HoldStore
from bot.store.subscriptions import SubscriptionStore
from handlers.article import Article
from handlers.channels import ChannelRef
from tests.articles import article
from tests.bot.platforms.outbox_helpers import hold

NOW = datetime(2026, 11, 27, 12, tzinfo=UTC)
DIGEST = ChannelRef("console", "local", "digest")
INSTANT = ChannelRef("slack", "T1", "C1")
FILTERED = ChannelRef("discord", "1", "2")


def news(feed: str, number: int, title: str, **changes: object) -> Article:
    values: dict[str, object] = {
        "feed_id": feed,
        "entry_key": f"{feed}-{number}",
        "title": title,
        "url": f"https://{feed}.example.com/{number}",
        "published": NOW - timedelta(hours=number),
        "seen_at": NOW,
        "description": f"<p>{title}. More about it follows here.</p>",
    }
    values.update(changes)
    return article(**values)


async def subscribe_all(handle: RedisHandle) -> SubscriptionStore:
    store = SubscriptionStore(handle.client, handle.keys)
    await store.subscribe(DIGEST, "f1", now=0)
    await store.subscribe(DIGEST, "f2", now=0)
    await store.subscribe(INSTANT, "f1", now=0, mode="instant")
    await store.subscribe(FILTERED, "f1", now=0, filter="ukraine -sport")
    return store


async def pending(handle: RedisHandle, channel: ChannelRef) -> list[str]:
    return await handle.client.zrevrange(handle.keys.channel_pending(str(channel)), 0, -1)


async def outbox(handle: RedisHandle, platform: str) -> list[dict[str, str]]:
    return [fields for _id, fields in await handle.client.xrange(handle.keys.outbox(platform))]


async def test_stories_reach_each_channel_once_as_subscribed(handle: RedisHandle) -> None:
    await subscribe_all(handle)
    pipeline = build_pipeline(handle.client, handle.keys, ttl=30 * 86400, clock=NOW.timestamp)
    [talks, match] = (
        await pipeline.process(
            [
                news("f1", 1, "Ukraine peace talks resume"),
                news("f1", 2, "Ukraine sport final tonight"),
            ]
        )
    ).articles
    # The same page again from another subscribed feed folds into the story: no second post.
    await pipeline.process([news("f2", 9, "Ukraine peace talks resume", url=talks.url)])
    assert await pending(handle, DIGEST) == [talks.story_id, match.story_id]
    assert [e["delivery"] for e in await outbox(handle, "slack")] == [
        f"{INSTANT}|story|{match.story_id}",
        f"{INSTANT}|story|{talks.story_id}",
    ], "instant posts go out oldest first, so the channel reads in order"
    assert await pending(handle, FILTERED) == [talks.story_id], "filter keeps sport out"


async def test_edits_and_backlog_are_never_routed(handle: RedisHandle) -> None:
    await subscribe_all(handle)
    pipeline = build_pipeline(handle.client, handle.keys, ttl=30 * 86400, clock=NOW.timestamp)
    await pipeline.process([news("f1", 5, "Old story from history", backlog=True)])
    [first] = (await pipeline.process([news("f1", 1, "Ukraine ceasefire holds")])).articles
    [edit] = (await pipeline.process([news("f1", 1, "Ukraine ceasefire holds for now")])).articles
    assert edit.update
    assert await pending(handle, DIGEST) == [first.story_id]
    assert len(await outbox(handle, "slack")) == 1


async def test_a_new_subscription_gets_the_newest_stories_only(handle: RedisHandle) -> None:
    pipeline = build_pipeline(handle.client, handle.keys, ttl=30 * 86400, clock=NOW.timestamp)
    stored = (
        await pipeline.process(
            [news("f3", n, f"Story number {n} of the feed") for n in range(1, 9)]
        )
    ).articles
    store = SubscriptionStore(handle.client, handle.keys)
    sub, _ = await store.subscribe(DIGEST, "f3", now=0)
    router = Router(handle.client, handle.keys, ttl=30 * 86400, clock=NOW.timestamp)
    assert await router.seed(sub, newest=3) == 3
    assert await pending(handle, DIGEST) == [a.story_id for a in stored[:3]]
    assert await router.seed(sub, newest=3) == 0, "seeding twice routes nothing twice"


@pytest.mark.parametrize("failing", [1, 2, 3])
async def test_a_redis_error_part_way_through_routing_loses_nothing(
    handle: RedisHandle, monkeypatch: pytest.MonkeyPatch, failing: int
) -> None:
    """The connection drops on the routing's 1st, 2nd or 3rd round trip; the retry (the
    pipeline worker runs the batch again) still gets the story to every channel, once."""
    await subscribe_all(handle)
    router = Router(handle.client, handle.keys, ttl=30 * 86400, clock=NOW.timestamp)
    story = Routable("s-ukraine", NOW.timestamp(), "f1", {"title": "Ukraine talks", "text": ""})
    subs = await SubscriptionStore(handle.client, handle.keys).of_feed("f1")
    pairs = [(sub, story) for sub in subs]
    kind = type(handle.client.pipeline())  # a single Redis's Pipeline, or a ClusterPipeline
    real_execute = kind.execute
    calls = 0

    async def execute(self: Pipeline, raise_on_error: bool = True) -> list[object]:
        nonlocal calls
        calls += 1
        if calls == failing:
            raise RedisConnectionError("connection reset by peer")
        return await real_execute(self, raise_on_error)

    monkeypatch.setattr(kind, "execute", execute)
    with pytest.raises(RedisConnectionError):
        await router.route(pairs)
    monkeypatch.setattr(kind, "execute", real_execute)
    await router.route(pairs)  # the retry
    await router.route(pairs)  # and a later copy of the story: nothing new
    for channel in (DIGEST, FILTERED):
        assert await pending(handle, channel) == ["s-ukraine"]
    deliveries = {e["delivery"] for e in await outbox(handle, "slack")}
    assert deliveries == {f"{INSTANT}|story|s-ukraine"}


async def test_pending_digest_items_are_bounded(handle: RedisHandle) -> None:
    store = SubscriptionStore(handle.client, handle.keys)
    sub, _ = await store.subscribe(DIGEST, "f1", now=0)
    router = Router(handle.client, handle.keys, ttl=86400, clock=NOW.timestamp)
    old = Routable("s-old", NOW.timestamp() - 2 * 86400, "f1", {"title": "Old", "text": ""})
    await router.route([(sub, old)])
    many = [
        (sub, Routable(f"s{n}", NOW.timestamp() - n, "f1", {"title": "x", "text": ""}))
        for n in range(PENDING_MAX + 10)
    ]
    await router.route(many)
    kept = await pending(handle, DIGEST)
    assert len(kept) == PENDING_MAX and "s-old" not in kept
    assert kept[0] == "s0" and kept[-1] == f"s{PENDING_MAX - 1}", "the newest are kept"
    assert 0 < await handle.client.ttl(handle.keys.channel_pending(str(DIGEST))) <= 86400


TOPICS = [
    "harbour",
    "wheat",
    "comet",
    "museum",
    "railway",
    "glacier",
    "orchestra",
    "vaccine",
    "satellite",
    "marathon",
    "volcano",
    "library",
    "election",
    "drought",
    "bridge",
    "festival",
    "reactor",
    "coral",
    "airline",
    "tariff",
]


async def test_a_burst_of_instant_stories_comes_as_a_few_messages(handle: RedisHandle) -> None:
    """Issue #15: 20 new stories for an instant channel make a handful of messages, not
    twenty, and every story is in them once; a quiet channel still gets one each."""
    await SubscriptionStore(handle.client, handle.keys).subscribe(
        INSTANT, "f1", now=0, mode="instant"
    )
    pipeline = build_pipeline(handle.client, handle.keys, ttl=30 * 86400, clock=NOW.timestamp)
    await pipeline.process([news("f1", 99, "Ferry timetable changes for the winter season")])
    burst = [
        news("f1", n, f"{topic.title()} story number {n} makes the news today")
        for n, topic in enumerate(TOPICS)
    ]
    first = await pipeline.process(burst[:10])
    await pipeline.process(burst[:10])  # a retried batch adds nothing
    second = await pipeline.process(burst[10:])
    messages = await outbox(handle, "slack")
    assert messages[0]["kind"] == "story", "one story alone is posted as it is"
    assert [m["kind"] for m in messages[1:]] == ["digest", "digest"]
    assert messages[1]["heading"] == "10 new stories from Example"
    posted = [s for m in messages[1:] for s in json.loads(m["stories"])]
    stored = {a.story_id for a in first.articles + second.articles}
    assert len(stored) == 20
    assert sorted(posted) == sorted(stored), "every story once"
    assert len({m["delivery"] for m in messages}) == len(messages)


async def test_a_few_instant_stories_come_one_message_each(handle: RedisHandle) -> None:
    await SubscriptionStore(handle.client, handle.keys).subscribe(
        INSTANT, "f1", now=0, mode="instant"
    )
    pipeline = build_pipeline(
        handle.client, handle.keys, ttl=30 * 86400, clock=NOW.timestamp, instant_burst=3
    )
    await pipeline.process([news("f1", n, f"{TOPICS[n].title()} news {n}") for n in range(2)])
    await pipeline.process([news("f1", n, f"{TOPICS[n].title()} news {n}") for n in range(2, 4)])
    assert [m["kind"] for m in await outbox(handle, "slack")] == ["story", "story", "digest"]


async def test_a_refused_channel_is_still_routed_then_its_subscriptions_removed(
    handle: RedisHandle, caplog: pytest.LogCaptureFixture
) -> None:
    """Issue #21: a held channel keeps getting its stories routed (into its hold, by the
    outbox), and after NEWSBOT_REFUSED_CHANNEL_DAYS its subscriptions and hold go."""
    store = await subscribe_all(handle)
    refused_at = NOW.timestamp() - 86400
    holds = HoldStore(handle.client, handle.keys, ttl=30 * 86400)
    await hold(handle, str(INSTANT), reason="channel_not_found", refusal="gone", since=refused_at)
    pipeline = build_pipeline(handle.client, handle.keys, ttl=30 * 86400, clock=NOW.timestamp)
    await pipeline.process([news("f1", 1, "Harbour bridge reopens after repairs")])
    assert [m["channel"] for m in await outbox(handle, "slack")] == [str(INSTANT)], "routed"
    assert len(await pending(handle, DIGEST)) == 1, "other channels go on"
    assert (
        await sweep_refused(
            handle.client, handle.keys, now=refused_at + 29 * 86400, after=30 * 86400
        )
        == 0
    )
    assert await store.of_channel(INSTANT)
    with caplog.at_level("WARNING"):
        removed = await sweep_refused(
            handle.client, handle.keys, now=refused_at + 30 * 86400, after=30 * 86400
        )
    assert removed == 1 and await store.of_channel(INSTANT) == []
    assert await store.of_channel(DIGEST), "only the refused channel"
    assert await holds.holds([str(INSTANT)]) == {}, "and what it held"
    [record] = [r for r in caplog.records if "refused for too long" in r.getMessage()]
    assert record.channel == str(INSTANT) and record.feeds == "f1"  # type: ignore[attr-defined]


async def test_a_paused_subscription_takes_no_story_until_resumed(handle: RedisHandle) -> None:
    """Pausing is one channel's: the feed is still polled and other channels still get it."""
    store = await subscribe_all(handle)
    await store.subscribe(DIGEST, "f1", now=1, paused=True)
    pipeline = build_pipeline(handle.client, handle.keys, ttl=30 * 86400, clock=NOW.timestamp)
    [first] = (await pipeline.process([news("f1", 1, "Ukraine harvest begins")])).articles
    assert await pending(handle, DIGEST) == [], "paused here"
    assert await pending(handle, FILTERED) == [first.story_id], "the feed's other channels"
    sub = await store.get(DIGEST, "f1")
    assert sub is not None and sub.paused and sub.mode == "digest"
    await store.subscribe(DIGEST, "f1", now=2, paused=False)
    [second] = (await pipeline.process([news("f1", 2, "Ukraine rail link reopens")])).articles
    assert await pending(handle, DIGEST) == [second.story_id], "resumed: new stories come"
    raw = await handle.client.hget(handle.keys.channel_subs(str(DIGEST)), "f1")
    assert "paused" not in str(raw), "an active subscription is stored as before pausing"
