"""The poller on real Redis and a real feed server: claims, conditional GET, backoff."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Sequence
from datetime import UTC, datetime

import pytest

from bot.metrics import Metrics
from bot.net.fetch import Fetcher
from bot.net.guard import allow_any
from bot.roles.pipeline import Pipeline
from bot.roles.poller import MAX_BACKOFF, Poller, next_poll_delay
from bot.store.connection import RedisHandle
from bot.store.search_index import SearchIndex
from bot.store.stories import load_stories
from bot.store.subscriptions import SubscriptionStore
from bot.store.watchlist import InvalidFeedURL, Watchlist
from handlers.article import Article
from handlers.channels import ChannelRef
from tests.articles import rss
from tests.fakes.feed_server import FeedServer

FEED = rss(
    "Local News",
    [
        {
            "title": "One",
            "link": "https://news.example.com/1",
            "guid": "1",
            "published": datetime(2026, 11, 27, 7, tzinfo=UTC),
        },
        {"title": "Two", "link": "https://news.example.com/2", "guid": "2"},
    ],
)


class Clock:
    def __init__(self, now: float = 1_800_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.mark.parametrize(
    ("failures", "retry_after", "max_age", "expected"),
    [
        (0, None, None, 600),
        (0, None, 3600, 3600),
        (0, None, 10**9, 6 * 3600),
        (0, None, 5, 600),
        (1, None, None, 600),
        (2, None, None, 1200),
        (4, None, None, 4800),
        (40, None, None, MAX_BACKOFF),
        (1, 7200, None, 7200),
        (1, 10**9, None, MAX_BACKOFF),
    ],
)
def test_next_poll_delay(
    failures: int, retry_after: float | None, max_age: float | None, expected: float
) -> None:
    assert (
        next_poll_delay(600, failures=failures, retry_after=retry_after, max_age=max_age)
        == expected
    )


async def test_watchlist_ids_and_validation(handle: RedisHandle) -> None:
    watchlist = Watchlist(handle.client, handle.keys)
    first, created = await watchlist.add("https://a.example.com/feed", now=1)
    again, created_again = await watchlist.add("https://a.example.com/feed", now=2)
    second, _ = await watchlist.add("https://b.example.com/feed", now=3)
    assert (first.id, created, again.id, created_again, second.id) == (
        "f1",
        True,
        "f1",
        False,
        "f2",
    )
    with pytest.raises(InvalidFeedURL, match="example"):
        await watchlist.add("ftp://nope", now=4)
    assert (await watchlist.remove("f1")) is not None
    assert [f.id for f in await watchlist.all()] == ["f2"]
    assert await watchlist.get("https://a.example.com/feed") is None


async def test_two_processes_never_claim_the_same_feed(handle: RedisHandle) -> None:
    watchlist = Watchlist(handle.client, handle.keys)
    for n in range(40):
        await watchlist.add(f"https://example.com/{n}", now=100)
    claims = await asyncio.gather(
        *(watchlist.claim_due(now=200, limit=7, lease=60) for _ in range(10))
    )
    claimed = [feed.id for batch in claims for feed in batch]
    assert len(claimed) == 40 and len(set(claimed)) == 40
    assert await watchlist.claim_due(now=200, limit=100, lease=60) == []
    assert len(await watchlist.claim_due(now=261, limit=100, lease=60)) == 40, "leases expire"


async def poller_for(
    handle: RedisHandle, fetcher: Fetcher, clock: Clock, *, first_fetch_max: int = 5
) -> Poller:
    return Poller(
        client=handle.client,
        keys=handle.keys,
        fetcher=fetcher,
        interval=600,
        metrics=Metrics(),
        clock=clock,
        first_fetch_max=first_fetch_max,
    )


async def test_poll_queues_entries_then_304_does_no_parsing(
    handle: RedisHandle, feed_server: FeedServer
) -> None:
    url = feed_server.add("/feed", FEED, etag='"abc"')
    clock = Clock()
    watchlist = Watchlist(handle.client, handle.keys)
    await watchlist.add(url, now=clock.now)
    async with Fetcher(policy=allow_any) as fetcher:
        poller = await poller_for(handle, fetcher, clock)
        [report] = await poller.poll_due()
        assert (report.status, report.entries) == ("ok", 2)
        assert await handle.client.xlen(handle.keys.entries) == 2
        assert await poller.poll_due() == [], "not due again before the interval"
        clock.now += 600
        [report] = await poller.poll_due()
        assert report.status == "not_modified"
    assert await handle.client.xlen(handle.keys.entries) == 2
    feed = await watchlist.get(url)
    assert feed is not None and feed.title == "Local News" and feed.etag == '"abc"'
    assert feed_server.requests[-1][1]["If-None-Match"] == '"abc"'


async def test_polling_waits_while_the_pipeline_is_behind_and_trims_nothing(
    handle: RedisHandle, feed_server: FeedServer
) -> None:
    """Issue #21: the entries stream is bounded by back-pressure, never by trimming."""
    url = feed_server.add("/feed", FEED)
    clock = Clock()
    await Watchlist(handle.client, handle.keys).add(url, now=clock.now)
    for n in range(3):
        await handle.client.xadd(handle.keys.entries, {"a": f"waiting {n}"})
    async with Fetcher(policy=allow_any) as fetcher:
        poller = await poller_for(handle, fetcher, clock)
        poller.backlog_max = 2
        assert await poller.poll_due() == [] and poller.held_back
        assert feed_server.requests == [], "no feed claimed or fetched"
        assert await handle.client.xlen(handle.keys.entries) == 3, "nothing trimmed"
        await handle.client.delete(handle.keys.entries)  # the pipeline caught up
        [report] = await poller.poll_due()
        assert report.status == "ok" and not poller.held_back


async def test_failing_feed_backs_off_and_recovers(
    handle: RedisHandle, feed_server: FeedServer
) -> None:
    url = feed_server.add("/flaky", status=503, headers={"Retry-After": "1800"})
    clock = Clock()
    watchlist = Watchlist(handle.client, handle.keys)
    record, _ = await watchlist.add(url, now=clock.now)
    async with Fetcher(policy=allow_any) as fetcher:
        poller = await poller_for(handle, fetcher, clock)
        [report] = await poller.poll_due()
        assert report.status == "failed" and "503" in report.error
        feed = await watchlist.get(record.id)
        assert feed is not None and feed.failures == 1 and feed.failing_since == clock.now
        assert await watchlist.next_due() == clock.now + 1800, "Retry-After honoured"
        feed_server.add("/flaky", FEED)
        clock.now += 1800
        [report] = await poller.poll_due()
        assert report.status == "ok"
    feed = await watchlist.get(record.id)
    assert feed is not None and feed.failures == 0 and feed.last_error == ""


async def test_a_feed_that_is_not_a_feed_is_a_clean_error(
    handle: RedisHandle, feed_server: FeedServer
) -> None:
    url = feed_server.add("/page", "<html><body>hello</body></html>", content_type="text/html")
    clock = Clock()
    await Watchlist(handle.client, handle.keys).add(url, now=clock.now)
    async with Fetcher(policy=allow_any) as fetcher:
        [report] = await (await poller_for(handle, fetcher, clock)).poll_due()
    assert report.status == "failed" and "not a" in report.error


async def drain(handle: RedisHandle) -> tuple[Pipeline, Pipeline]:
    """Run the entries stream through the pipelines as `newsbot run` does; returns the
    full pipeline and the store-only one, whose timings name the steps each ran."""
    from bot.roles.pipeline import build_backlog_pipeline, build_pipeline
    from bot.roles.worker import PipelineWorker, ensure_group

    await ensure_group(handle.client, handle.keys)
    full = build_pipeline(handle.client, handle.keys, ttl=86400)
    store_only = build_backlog_pipeline(handle.client, handle.keys, ttl=86400)
    worker = PipelineWorker(
        client=handle.client,
        blocking=handle.blocking,
        keys=handle.keys,
        pipeline=full,
        backlog_pipeline=store_only,
        metrics=Metrics(),
        consumer="test",
    )
    await worker.drain()
    return full, store_only


def changing_guids(fetch_number: int, count: int = 4) -> str:
    return rss(
        "Shifty",
        [
            {
                "title": f"Shifty story {n}",
                "link": f"https://shifty.example.com/{n}",
                "guid": f"random-{fetch_number}-{n}",
                "description": f"Body of story {n}.",
            }
            for n in range(count)
        ],
    )


async def test_a_feed_whose_guids_change_every_fetch_posts_nothing_twice(
    handle: RedisHandle, feed_server: FeedServer
) -> None:
    url = feed_server.add("/shifty.xml", changing_guids(1))
    clock = Clock()
    watchlist = Watchlist(handle.client, handle.keys)
    record, _ = await watchlist.add(url, now=clock.now)
    async with Fetcher(policy=allow_any) as fetcher:
        poller = await poller_for(handle, fetcher, clock)
        for fetch_number in (1, 2, 3):
            feed_server.add("/shifty.xml", changing_guids(fetch_number))
            await poller.poll_due()
            await drain(handle)
            clock.now += 600
    assert await handle.client.zcard(handle.keys.stories) == 4
    feed = await watchlist.get(record.id)
    assert feed is not None and feed.id_mode == "link"
    story_ids = await handle.client.zrange(handle.keys.stories, 0, -1)
    stories = await load_stories(handle.client, handle.keys, story_ids)
    assert [len(s.copies) for s in stories] == [1, 1, 1, 1], "no copy of itself"


async def test_first_fetch_is_backlog_beyond_the_newest(
    handle: RedisHandle, feed_server: FeedServer
) -> None:
    items = [
        {
            "title": f"Item {n}",
            "link": f"https://b.example.com/{n}",
            "guid": str(n),
            "published": datetime(2026, 11, 27, n, tzinfo=UTC),
        }
        for n in range(8)
    ]
    url = feed_server.add("/b.xml", rss("Backlog", items))
    clock = Clock()
    await Watchlist(handle.client, handle.keys).add(url, now=clock.now)
    async with Fetcher(policy=allow_any) as fetcher:
        poller = await poller_for(handle, fetcher, clock, first_fetch_max=3)
        await poller.poll_due()
        newer = {
            "title": "Item 9",
            "link": "https://b.example.com/9",
            "guid": "9",
            "published": datetime(2026, 11, 27, 9, tzinfo=UTC),
        }
        feed_server.add("/b.xml", rss("Backlog", [newer, *items]))
        clock.now += 600
        await poller.poll_due()
    queued = [
        json.loads(fields["a"]) for _id, fields in await handle.client.xrange(handle.keys.entries)
    ]
    first = {a["title"]: a["backlog"] for a in queued[:8]}
    assert sorted(t for t, backlog in first.items() if not backlog) == [
        "Item 5",
        "Item 6",
        "Item 7",
    ]
    assert [a["backlog"] for a in queued[8:] if a["title"] == "Item 9"] == [False]
    await drain(handle)
    assert await handle.client.zcard(handle.keys.stories) == 9, "backlog is stored, not dropped"


async def test_a_first_fetch_stores_its_history_on_the_store_only_path(
    handle: RedisHandle, feed_server: FeedServer
) -> None:
    """Only the newest NEWSBOT_FIRST_FETCH_MAX entries go through the whole pipeline; the
    rest are normalised, deduplicated, stored with their lead as summary and indexed, never
    summarised by score, folded, routed or alerted, and search finds them."""
    words = ["harbour", "glacier", "orchard", "lantern", "meadow", "quarry", "canyon", "delta"]
    items = [
        {
            "title": f"Item {n}",
            "link": f"https://h.example.com/{n}",
            "guid": str(n),
            "published": datetime(2026, 11, 27, n, tzinfo=UTC),
            "description": f"The {words[n]} opened on Monday. Crowds came early. "
            "Officials were pleased with the turnout and promised more events in spring.",
        }
        for n in range(8)
    ]
    url = feed_server.add("/h.xml", rss("History", items))
    clock = Clock()
    record, _ = await Watchlist(handle.client, handle.keys).add(url, now=clock.now)
    channel = ChannelRef.parse("slack:T1:C1")
    await SubscriptionStore(handle.client, handle.keys).subscribe(
        channel, record.id, now=clock.now, mode="instant"
    )
    async with Fetcher(policy=allow_any) as fetcher:
        await (await poller_for(handle, fetcher, clock, first_fetch_max=3)).poll_due()
    full, store_only = await drain(handle)
    assert set(store_only.timings) == {"normalize", "dedup", "lead", "store"}
    assert {"summarize", "fold", "route", "alert"} <= set(full.timings)
    story_ids = await handle.client.zrange(handle.keys.stories, 0, -1)
    loaded = await load_stories(handle.client, handle.keys, story_ids)
    stories = {s.copies[0].title: s for s in loaded}
    assert len(stories) == 8
    history = [stories[f"Item {n}"] for n in range(5)]
    assert all(s.method == "lead" for s in history)
    assert history[0].summary.startswith("The harbour opened on Monday.")
    assert {stories[f"Item {n}"].method for n in (5, 6, 7)} == {"extractive"}
    routed = await handle.client.zrange(handle.keys.channel_routed(str(channel)), 0, -1)
    assert sorted(stories[t].id for t in ("Item 5", "Item 6", "Item 7")) == sorted(routed)
    found = await SearchIndex(handle.client, handle.keys, ttl=86400).search("glacier")
    assert [item.title for item in found.items] == ["Item 1"]


async def test_channels_are_told_once_when_a_feed_fails_for_a_day_and_when_it_is_back(
    handle: RedisHandle, feed_server: FeedServer
) -> None:
    url = feed_server.add("/down", status=500)
    clock = Clock()
    watchlist = Watchlist(handle.client, handle.keys)
    record, _ = await watchlist.add(url, now=clock.now)
    subs = SubscriptionStore(handle.client, handle.keys)
    for channel in ("slack:T1:C1", "discord:1:2"):
        await subs.subscribe(ChannelRef.parse(channel), record.id, now=clock.now)

    async def notices() -> list[dict[str, str]]:
        found = []
        for platform in ("slack", "discord"):
            found += [f for _id, f in await handle.client.xrange(handle.keys.outbox(platform))]
        return found

    async with Fetcher(policy=allow_any) as fetcher:
        poller = await poller_for(handle, fetcher, clock)
        for hours in (0, 6, 23):  # failing, but for less than a day
            clock.now = 1_800_000_000.0 + hours * 3600
            await poller.poll(await watchlist.get(record.id))  # type: ignore[arg-type]
        assert await notices() == []
        for hours in (24, 30, 40):  # told at 24 h, and only once
            clock.now = 1_800_000_000.0 + hours * 3600
            await poller.poll(await watchlist.get(record.id))  # type: ignore[arg-type]
        down = await notices()
        assert sorted(n["channel"] for n in down) == ["discord:1:2", "slack:T1:C1"]
        assert all("failing for 24 h" in n["text"] and "500" in n["text"] for n in down)
        feed_server.add("/down", FEED)
        clock.now += 3600
        report = await poller.poll(await watchlist.get(record.id))  # type: ignore[arg-type]
        assert report.status == "ok"
        up = [n for n in await notices() if "works again" in n["text"]]
        assert sorted(n["channel"] for n in up) == ["discord:1:2", "slack:T1:C1"]
        assert all("works again after 41 h" in n["text"] for n in up)
        clock.now += 3600
        await poller.poll(await watchlist.get(record.id))  # type: ignore[arg-type]
        assert len(await notices()) == 4, "recovery is told once"
    feed = await watchlist.get(record.id)
    assert feed is not None and feed.down_notice == 0.0


def busy_items(count: int) -> list[dict[str, object]]:
    return [
        {
            "title": f"Item {n}",
            "link": f"https://busy.example.com/{n}",
            "guid": str(n),
            "published": datetime(2026, 11, 27, 0, n, tzinfo=UTC),
            "description": f"Item {n} happened.",
        }
        for n in range(count)
    ]


async def queued_titles(handle: RedisHandle) -> list[str]:
    rows = await handle.client.xrange(handle.keys.entries)
    return [json.loads(fields["a"])["title"] for _id, fields in rows]


async def test_a_changed_document_queues_only_its_new_and_edited_entries(
    handle: RedisHandle, feed_server: FeedServer
) -> None:
    """Issue #24: the old entries of a changed document are recognised in one round trip
    and never reach the entries stream; an edit does, and the record keeps one document."""
    items = busy_items(30)
    url = feed_server.add("/busy.xml", rss("Busy", items))
    clock = Clock()
    record, _ = await Watchlist(handle.client, handle.keys).add(url, now=clock.now)
    async with Fetcher(policy=allow_any) as fetcher:
        poller = await poller_for(handle, fetcher, clock)
        [first] = await poller.poll_due()
        assert (first.entries, first.queued) == (30, 30)
        await drain(handle)
        assert await handle.client.hlen(handle.keys.feed_seen(record.id)) == 30
        edited = [dict(item) for item in items]
        edited[3]["title"] = "Item 3, revised"
        new = {**items[0], "title": "Item 30", "guid": "30", "link": "https://busy.example.com/30"}
        feed_server.add("/busy.xml", rss("Busy", [new, *edited]))
        clock.now += 600
        [second] = await poller.poll_due()
        assert (second.entries, second.queued) == (31, 2)
        assert sorted(await queued_titles(handle)) == ["Item 3, revised", "Item 30"]
        await drain(handle)
        feed_server.add("/busy.xml", rss("Busy", [new, *edited[:9]]))
        clock.now += 600
        [third] = await poller.poll_due()
    assert (third.entries, third.queued) == (10, 0)
    assert await handle.client.hlen(handle.keys.feed_seen(record.id)) == 10, "one document"
    assert await handle.client.zcard(handle.keys.stories) == 31


class FailsOn:
    """A required step that cannot handle one entry."""

    name = "fragile"
    required = True

    def __init__(self, title: str) -> None:
        self.title = title

    async def run(self, articles: Sequence[Article]) -> list[Article]:
        if any(a.title == self.title for a in articles):
            raise ValueError(f"cannot handle {self.title}")
        return list(articles)


async def test_an_entry_the_pipeline_failed_is_queued_again_at_the_next_poll(
    handle: RedisHandle, feed_server: FeedServer
) -> None:
    from bot.roles.worker import PipelineWorker, ensure_group

    url = feed_server.add("/busy.xml", rss("Busy", busy_items(3)))
    clock = Clock()
    await Watchlist(handle.client, handle.keys).add(url, now=clock.now)
    await ensure_group(handle.client, handle.keys)
    worker = PipelineWorker(
        client=handle.client,
        blocking=handle.blocking,
        keys=handle.keys,
        pipeline=Pipeline([FailsOn("Item 1")]),
        metrics=Metrics(),
        consumer="test",
    )
    async with Fetcher(policy=allow_any) as fetcher:
        poller = await poller_for(handle, fetcher, clock)
        await poller.poll_due()
        await worker.drain()
        feed_server.add("/busy.xml", rss("Busy", busy_items(3)), etag='"new"')
        clock.now += 600
        [again] = await poller.poll_due()
    assert again.queued == 1 and await queued_titles(handle) == ["Item 1"]


async def test_a_slow_feed_never_holds_up_the_others(
    handle: RedisHandle, feed_server: FeedServer
) -> None:
    """`run` keeps polls in flight independently: while one feed takes 2 s to answer, the
    quick feeds (another host) are polled again each time they fall due."""
    watchlist = Watchlist(handle.client, handle.keys)
    feed_server.add("/slow", FEED, etag='"s"', delay=2.0)
    await watchlist.add(feed_server.url("/slow", host="localhost"), now=time.time())
    for n in range(4):
        await watchlist.add(feed_server.add(f"/quick{n}", FEED, etag='"q"'), now=time.time())
    stop = asyncio.Event()
    async with Fetcher(policy=allow_any) as fetcher:
        poller = Poller(
            client=handle.client,
            keys=handle.keys,
            fetcher=fetcher,
            interval=0.3,
            metrics=Metrics(),
        )
        task = asyncio.create_task(poller.run(stop, idle=0.05))
        await asyncio.sleep(1.8)
        stop.set()
        await asyncio.wait_for(task, 5)
    assert feed_server.hits["/slow"] == 1
    assert all(feed_server.hits[f"/quick{n}"] >= 4 for n in range(4)), feed_server.hits
