"""Alerts in the real pipeline on a real Redis: scope, one alert per story, first fetches,
batching into at most one DM a minute, pauses."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from bot.roles.pipeline import build_pipeline
from bot.store.alerts import DM_GAP, AlertStore, Match, dm_target
from bot.store.audience import MEMBER_FRESH, AudienceStore
from bot.store.connection import RedisHandle
from bot.store.subscriptions import SubscriptionStore
from handlers.channels import ChannelRef
from tests.articles import article
from tests.bot.roles.test_folding import AUSTRALIA

NOW = datetime(2026, 11, 27, 12, tzinfo=UTC).timestamp()  # the test articles' day
PUBLIC = ChannelRef("slack", "T1", "CPUB")
PRIVATE = ChannelRef("slack", "T1", "CPRIV")
OTHER_TEAM = ChannelRef("slack", "T2", "CPUB")


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> float:
        return self.now


async def follow(handle: RedisHandle, channel: ChannelRef, feed: str, *, public: bool) -> None:
    subs = SubscriptionStore(handle.client, handle.keys)
    await subs.subscribe(channel, feed, now=NOW, added_by="U0")
    await subs.set_visibility(channel, public=public)


async def alert(
    handle: RedisHandle, query: str, *, where: ChannelRef = PUBLIC, user: str = "U1", **more: Any
) -> str:
    made = await AlertStore(handle.client, handle.keys).add(
        origin=where, user=user, query=query, channel=more.get("channel"), limit=25, now=NOW
    )
    return made.id


async def outbox(handle: RedisHandle, platform: str = "slack") -> list[dict[str, Any]]:
    entries = await handle.client.xrange(handle.keys.outbox(platform))
    return [
        {**fields, "items": json.loads(fields["items"])}
        for _, fields in entries
        if fields.get("kind") == "alert"
    ]


async def ingest(handle: RedisHandle, clock: Clock, *articles: Any) -> None:
    pipeline = build_pipeline(handle.client, handle.keys, ttl=86400 * 30, clock=clock)
    await pipeline.process(list(articles))


def story(n: int, title: str, feed: str = "f1", **fields: Any) -> Any:
    values = {
        "feed_id": feed,
        "entry_key": f"{feed}-{n}",
        "url": f"https://{feed}.example.com/{n}",
        "title": title,
        "description": f"<p>{title}. More details follow in the full report.</p>",
    }
    return article(**(values | fields))


async def test_a_match_in_a_public_channel_reaches_the_member_by_dm(handle: RedisHandle) -> None:
    await follow(handle, PUBLIC, "f1", public=True)
    aid = await alert(handle, "ceasefire")
    await ingest(handle, Clock(), story(1, "Ceasefire agreed in talks"), story(2, "Storm hits"))
    [dm] = await outbox(handle)
    assert dm["channel"] == dm_target("slack", "U1")
    assert [i["a"] for i in dm["items"]] == [aid] and dm["items"][0]["w"] == ["ceasefire"]
    assert dm["delivery"].startswith("alert:slack:dm:U1:")


async def test_private_channels_and_other_workspaces_stay_private(handle: RedisHandle) -> None:
    await follow(handle, PRIVATE, "f1", public=False)
    await follow(handle, OTHER_TEAM, "f2", public=True)
    await alert(handle, "ceasefire", where=PUBLIC, user="U1")  # in neither channel
    made_in_private = await alert(handle, "ceasefire", where=PRIVATE, user="U2")
    # U2 ran a command in the private channel five minutes ago: still a member.
    await AudienceStore(handle.client, handle.keys, clock=lambda: NOW - 300).record_members(
        PRIVATE, ["U2"]
    )
    await ingest(
        handle,
        Clock(),
        story(1, "Ceasefire agreed", feed="f1"),
        story(2, "Ceasefire holds", feed="f2"),
    )
    alerts = await outbox(handle)
    assert [dm["channel"] for dm in alerts] == [dm_target("slack", "U2")], (
        "only the member who made the alert in the private channel; nobody from T1 sees T2"
    )
    assert [i["a"] for i in alerts[0]["items"]] == [made_in_private]


async def test_a_private_channel_counts_only_while_its_member_record_is_fresh(
    handle: RedisHandle,
) -> None:
    await follow(handle, PRIVATE, "f1", public=False)
    await alert(handle, "ceasefire", where=PRIVATE, user="U2")
    members = AudienceStore(handle.client, handle.keys, clock=lambda: NOW - MEMBER_FRESH - 1)
    await members.record_members(PRIVATE, ["U2"])  # eleven minutes ago: no longer counts
    await ingest(handle, Clock(), story(1, "Ceasefire agreed", feed="f1"))
    assert await outbox(handle) == []
    await AudienceStore(handle.client, handle.keys, clock=lambda: NOW).record_members(
        PRIVATE, ["U2"]
    )
    await ingest(handle, Clock(), story(2, "Ceasefire holds", feed="f1"))
    [dm] = await outbox(handle)
    assert dm["channel"] == dm_target("slack", "U2")


async def test_a_story_first_brought_by_an_unseen_feed_alerts_when_a_visible_copy_comes(
    handle: RedisHandle,
) -> None:
    await follow(handle, OTHER_TEAM, "f2", public=True)
    await follow(handle, PUBLIC, "f1", public=True)
    aid = await alert(handle, "ceasefire", where=PUBLIC, user="U1")
    shared = "https://news.example.com/ceasefire"
    await ingest(handle, Clock(), story(1, "Ceasefire agreed", feed="f2", url=shared))
    assert await outbox(handle) == [], "T2's feed is not T1's to see"
    await ingest(handle, Clock(), story(2, "Ceasefire agreed", feed="f1", url=shared))
    await ingest(handle, Clock(), story(3, "Ceasefire agreed", feed="f1", url=shared + "?x=1"))
    [dm] = await outbox(handle)
    assert [i["a"] for i in dm["items"]] == [aid], "once, when the visible copy arrived"


async def test_a_channel_of_unknown_visibility_counts_as_private(handle: RedisHandle) -> None:
    await SubscriptionStore(handle.client, handle.keys).subscribe(
        ChannelRef("slack", "T1", "CNEW"), "f1", now=NOW, added_by="U0"
    )
    await alert(handle, "ceasefire")
    await ingest(handle, Clock(), story(1, "Ceasefire agreed"))
    assert await outbox(handle) == []


async def test_a_first_fetch_never_alerts(handle: RedisHandle) -> None:
    await follow(handle, PUBLIC, "f1", public=True)
    await alert(handle, "ceasefire")
    await ingest(handle, Clock(), story(1, "Ceasefire agreed", first_fetch=True))
    assert await outbox(handle) == []


async def test_a_folded_copy_never_alerts_again(handle: RedisHandle) -> None:
    await follow(handle, PUBLIC, "f1", public=True)
    await follow(handle, PUBLIC, "f2", public=True)
    await alert(handle, "repatriate")
    clock = Clock()
    title, lead = AUSTRALIA
    await ingest(handle, clock, story(1, title, description=lead))
    clock.now += 2 * DM_GAP
    variant = story(2, title, description=lead, url="https://f1.example.com/1?utm_source=rss")
    syndicated = story(3, title, feed="f2", description=lead, url="https://wire.example.net/au")
    await ingest(handle, clock, variant, syndicated)
    await AlertStore(handle.client, handle.keys).flush_due(clock.now + DM_GAP)
    items = [i for dm in await outbox(handle) for i in dm["items"]]
    assert len(items) == 1, items


async def test_four_matches_in_a_minute_make_at_most_two_dms(handle: RedisHandle) -> None:
    await follow(handle, PUBLIC, "f1", public=True)
    await alert(handle, "storm")
    clock = Clock()
    for n in range(4):
        await ingest(handle, clock, story(n, f"Storm number {n} hits the coast"))
        clock.now += 10
    store = AlertStore(handle.client, handle.keys)
    assert len(await outbox(handle)) == 1, "the first match goes at once"
    assert await store.flush_due(clock.now) == 0, "the minute is not up"
    assert await store.flush_due(NOW + DM_GAP) == 3
    dms = await outbox(handle)
    assert [len(dm["items"]) for dm in dms] == [1, 3]
    assert len({dm["delivery"] for dm in dms}) == 2


async def test_pause_drops_matches_and_resume_brings_them_back(handle: RedisHandle) -> None:
    await follow(handle, PUBLIC, "f1", public=True)
    await alert(handle, "storm")
    store = AlertStore(handle.client, handle.keys)
    clock = Clock()
    await store.pause("slack", "U1", NOW + 3600)
    await ingest(handle, clock, story(1, "Storm hits the coast"))
    assert await outbox(handle) == []
    await store.resume("slack", "U1")
    await ingest(handle, clock, story(2, "Another storm hits the coast today"))
    assert [len(dm["items"]) for dm in await outbox(handle)] == [1], "not saved up"


async def test_a_channel_alert_posts_each_match_in_its_channel(handle: RedisHandle) -> None:
    await follow(handle, PUBLIC, "f1", public=True)
    target = ChannelRef("slack", "T1", "CALERTS")
    aid = await alert(handle, "storm", channel=target)
    await ingest(handle, Clock(), story(1, "Storm hits"), story(2, "Storm passes"))
    posts = await outbox(handle)
    assert [p["channel"] for p in posts] == [str(target)] * 2
    assert {p["delivery"] for p in posts} == {f"alert:{aid}:{p['items'][0]['s']}" for p in posts}


async def test_a_new_alert_counts_from_the_next_batch(handle: RedisHandle) -> None:
    await follow(handle, PUBLIC, "f1", public=True)
    pipeline = build_pipeline(handle.client, handle.keys, ttl=86400, clock=Clock())
    await pipeline.process([story(1, "Storm hits")])
    await alert(handle, "storm")
    await pipeline.process([story(2, "Storm passes")])
    [dm] = await outbox(handle)
    assert len(dm["items"]) == 1


async def test_a_batch_of_thousands_of_matches_is_recorded_once_each(handle: RedisHandle) -> None:
    """The record script groups a batch's matches by story and sends them in chunks: over
    a thousand alerts on one story, twice over (a batch processed again after a crash),
    still give each member one DM with each of their matches once."""
    store = AlertStore(handle.client, handle.keys)
    made = [
        await store.add(
            origin=PUBLIC, user=f"U{n % 600}", query="storm", channel=None, limit=25, now=NOW
        )
        for n in range(1200)
    ]
    target = ChannelRef("slack", "T1", "CALERTS")
    posting = await store.add(
        origin=PUBLIC, user="U0", query="storm", channel=target, limit=25, now=NOW
    )
    matches = [
        (a, Match(a.id, story_id, ("storm",)))
        for story_id in ("s1", "s2")
        for a in [*made, posting]
    ]
    assert await store.record(matches, NOW) == 2 * 1201
    assert await store.record(matches, NOW + 1) == 0, "nothing twice"
    dms = [m for m in await outbox(handle) if m["channel"] != str(target)]
    assert len(dms) == 600
    assert all(sorted(i["s"] for i in dm["items"]) == ["s1", "s1", "s2", "s2"] for dm in dms)
    posts = [m for m in await outbox(handle) if m["channel"] == str(target)]
    assert sorted(p["delivery"] for p in posts) == [
        f"alert:{posting.id}:s1",
        f"alert:{posting.id}:s2",
    ]
    assert len(await handle.client.hkeys(handle.keys.alerts_fired)) == 1201
