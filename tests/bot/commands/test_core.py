"""The command core against a real Redis and a real feed server, as any adapter calls it."""

from __future__ import annotations

import logging
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bot.commands.caller import Caller
from bot.commands.core import CommandCore
from bot.metrics import Metrics
from bot.net.fetch import Fetcher
from bot.net.guard import allow_any
from bot.roles.pipeline import build_pipeline
from bot.roles.scheduler import Scheduler
from bot.roles.worker import PipelineWorker
from bot.settings import Settings
from bot.store.alerts import AlertStore
from bot.store.connection import RedisHandle
from bot.store.subscriptions import SubscriptionStore
from bot.store.watchlist import Watchlist
from handlers.channels import ChannelRef
from tests.articles import article, rss
from tests.bot.platforms.outbox_helpers import hold
from tests.conftest import make_settings
from tests.fakes.feed_server import FeedServer
from tests.scraped_page import page_html

HERE = ChannelRef("slack", "T1", "C1")
ADMIN = Caller(HERE, user="U_ADMIN", admin=True)
MEMBER = Caller(HERE, user="U_MEMBER")
NOW = datetime.now(UTC)
TOPICS = ["Harbour bridge reopens", "Wheat harvest record", "Comet visible tonight"]


def feed(count: int, *, prefix: str = "Story") -> str:
    return rss(
        "Daily",
        [
            {
                "title": f"{prefix} {n}: {TOPICS[n % 3]}",
                "link": f"https://daily.example.com/{prefix.lower()}/{n}",
                "guid": f"{prefix}-{n}",
                "published": NOW - timedelta(hours=count - n),
                "description": f"{TOPICS[n % 3]} in report {n}. More detail follows here.",
            }
            for n in range(1, count + 1)
        ],
    )


async def process_entries(handle: RedisHandle) -> None:
    worker = PipelineWorker(
        client=handle.client,
        blocking=handle.blocking,
        keys=handle.keys,
        pipeline=build_pipeline(handle.client, handle.keys, ttl=30 * 86400),
        metrics=Metrics(),
        consumer="test",
    )
    await worker.drain()


async def outbox(handle: RedisHandle) -> list[dict[str, str]]:
    return [f for _id, f in await handle.client.xrange(handle.keys.outbox("slack"))]


async def test_subscribe_fetches_at_once_and_delivers_the_newest_five(
    core: CommandCore, handle: RedisHandle, feed_server: FeedServer
) -> None:
    url = feed_server.add("/daily.xml", feed(8))
    reply = await core.handle(ADMIN, f"/news subscribe {url}")
    assert reply.ok, reply.text
    assert "found 8 stories" in reply.text and "5 newest go into the next digest" in reply.text
    assert "daily 09:00 UTC" in reply.text, "the default schedule"
    await process_entries(handle)
    pending = await handle.client.zcard(handle.keys.channel_pending(str(HERE)))
    assert pending == 5
    assert await handle.client.zscore(handle.keys.digests_due, str(HERE)) is not None
    assert feed_server.hits["/daily.xml"] == 1

    again = await core.handle(ADMIN, f"subscribe <{url}> instant")
    assert "already subscribed" in again.text and "instant mode" in again.text
    [sub] = await SubscriptionStore(handle.client, handle.keys).of_channel(HERE)
    assert sub.mode == "instant" and sub.added_by == "U_ADMIN"


def site_page(*feeds: tuple[str, str]) -> str:
    links = "".join(
        f'<link rel="alternate" type="application/atom+xml" title="{title}" href="{href}">'
        for title, href in feeds
    )
    return f"<!DOCTYPE html><html><head>{links}</head><body>Daily news</body></html>"


async def test_subscribing_to_a_web_page_finds_its_feed(
    core: CommandCore, handle: RedisHandle, feed_server: FeedServer
) -> None:
    """Autodiscovery (issue #15): a page naming one feed (by a relative link) subscribes to
    that feed and says which; several are listed to choose from; none, the usual places."""
    feed_server.add("/news/feed.xml", feed(3))
    one = feed_server.add("/news/", site_page(("Daily", "feed.xml")), content_type="text/html")
    reply = await core.handle(ADMIN, f"subscribe {one}")
    assert reply.ok, reply.text
    assert f"{one} is a web page; its feed is {feed_server.url('/news/feed.xml')}" in reply.text
    [record] = await Watchlist(handle.client, handle.keys).all()
    assert record.url == feed_server.url("/news/feed.xml")

    several = feed_server.add(
        "/several", site_page(("World", "/w.xml"), ("Sport", "/s.xml")), content_type="text/html"
    )
    listed = await core.handle(ADMIN, f"subscribe {several}")
    assert not listed.ok and "names 2 feeds" in listed.text
    assert f"2. Sport: {feed_server.url('/s.xml')}" in listed.text
    bare = feed_server.add("/bare", site_page(), content_type="text/html")
    none = await core.handle(ADMIN, f"subscribe {bare}")
    assert not none.ok and "names no feed" in none.text and feed_server.url("/feed") in none.text
    assert feed_server.hits["/w.xml"] == feed_server.hits["/feed"] == 0
    assert len(await Watchlist(handle.client, handle.keys).all()) == 1


async def test_a_feed_that_fails_is_not_subscribed_and_leaves_no_trace(
    core: CommandCore,
    handle: RedisHandle,
    feed_server: FeedServer,
    caplog: pytest.LogCaptureFixture,
) -> None:
    for missing in ("/missing.xml", "/gone.xml"):
        reply = await core.handle(ADMIN, f"subscribe {feed_server.url(missing)}")
        assert not reply.ok and "could not subscribe" in reply.text and "404" in reply.text
    assert await Watchlist(handle.client, handle.keys).all() == []
    assert await SubscriptionStore(handle.client, handle.keys).of_channel(HERE) == []
    assert await handle.client.zcard(handle.keys.feeds_due) == 0
    works = feed_server.add("/works.xml", rss("Works", [{"title": "Harbour", "guid": "1"}]))
    bare = works.removeprefix("http://")
    tried = await core.handle(ADMIN, f"subscribe {bare}")
    assert not tried.ok and f"could not subscribe to https://{bare}" in tried.text
    assert "it had no scheme, so newsbot tried https://" in tried.text, tried.text
    reply = await core.handle(ADMIN, f"subscribe {works}")
    assert reply.ok and "f1 (Works)" in reply.text, "the failed tries used up no id"
    warned = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert not [r for r in warned if "feed poll failed" in r.getMessage()], "nothing kept"


async def test_members_may_read_but_not_manage(
    core: CommandCore,
    feed_server: FeedServer,
    tmp_path: Path,
    redis_url: str,
    handle: RedisHandle,
) -> None:
    url = feed_server.add("/daily.xml", feed(2))
    refused = await core.handle(MEMBER, f"subscribe {url}")
    assert not refused.ok and "only channel managers" in refused.text
    assert (await core.handle(MEMBER, "schedule off")).ok is False
    assert (await core.handle(MEMBER, "feeds")).ok
    assert (await core.handle(MEMBER, "schedule")).text.startswith("Digests here: ")

    listed = make_settings(tmp_path, NEWSBOT_REDIS_URL=redis_url, NEWSBOT_MANAGERS="U_MEMBER")
    async with Fetcher(policy=allow_any) as fetcher:
        widened = CommandCore(
            client=handle.client, keys=handle.keys, settings=listed, fetcher=fetcher
        )
        assert (await widened.handle(MEMBER, f"subscribe {url}")).ok


async def test_unsubscribe_by_id_or_url_and_feeds_shows_health(
    core: CommandCore, handle: RedisHandle, feed_server: FeedServer
) -> None:
    first = feed_server.add("/one.xml", feed(2, prefix="One"))
    second = feed_server.add("/two.xml", feed(2, prefix="Two"))
    await core.handle(ADMIN, f"subscribe {first}")
    await core.handle(ADMIN, f"subscribe {second} instant")
    await hold(handle, str(HERE))
    listing = await core.handle(MEMBER, "feeds")
    assert "f1" in listing.text and "f2" in listing.text and "[instant]" in listing.text
    assert "2 entries, ok" in listing.text and "Digests: daily 09:00 UTC" in listing.text
    assert "Delivery to this channel FAILED: not_in_channel. 1 deliveries are held" in listing.text
    probe = await handle.client.zscore(handle.keys.outbox_holds(HERE.platform), str(HERE))
    assert probe == 0, "a command in a held channel asks for a probe now"

    assert (await core.handle(ADMIN, "unsubscribe f1")).ok
    assert (await core.handle(ADMIN, f"unsubscribe {second}")).ok
    gone = await core.handle(ADMIN, "unsubscribe f1")
    assert not gone.ok and "no feed 'f1'" in gone.text
    assert "no feeds yet" in (await core.handle(ADMIN, "feeds")).text
    assert await handle.client.zscore(handle.keys.digests_due, str(HERE)) is None
    assert await Watchlist(handle.client, handle.keys).all() == [], "nobody follows them"


async def test_digest_now_posts_and_starts_a_new_window(
    core: CommandCore, handle: RedisHandle, feed_server: FeedServer
) -> None:
    url = feed_server.add("/daily.xml", feed(3))
    await core.handle(ADMIN, f"subscribe {url}")
    await process_entries(handle)
    slot = await handle.client.zscore(handle.keys.digests_due, str(HERE))

    posted = await core.handle(ADMIN, "digest")
    assert posted.ok and "digest of 3 stories" in posted.text
    [message] = await outbox(handle)
    assert message["kind"] == "digest" and len(message["stories"].split(",")) == 3
    assert message["delivery"].startswith(f"{HERE}|digest|now")
    assert await handle.client.zcard(handle.keys.channel_pending(str(HERE))) == 0
    assert await handle.client.zscore(handle.keys.digests_due, str(HERE)) == slot, "schedule kept"

    empty = await core.handle(ADMIN, "digest")
    assert "Nothing new since the last digest" in empty.text
    assert len(await outbox(handle)) == 1


async def test_digest_now_in_a_held_channel_says_it_waits(
    core: CommandCore, handle: RedisHandle, feed_server: FeedServer
) -> None:
    await core.handle(ADMIN, f"subscribe {feed_server.add('/daily.xml', feed(3))}")
    await process_entries(handle)
    await hold(handle, str(HERE), reason="not_in_channel: /invite @newsbot there")
    reply = await core.handle(ADMIN, "digest")
    assert "cannot post here: not_in_channel" in reply.text and "waits" in reply.text
    assert "Posting" not in reply.text


async def test_a_members_digest_is_a_preview_for_them_alone(
    core: CommandCore, handle: RedisHandle, feed_server: FeedServer
) -> None:
    """A member who is not a manager neither posts in the channel nor moves its window."""
    url = feed_server.add("/daily.xml", feed(3))
    await core.handle(ADMIN, f"subscribe {url}")
    await process_entries(handle)
    preview = await core.handle(MEMBER, "digest")
    assert preview.ok and "Only you see this preview" in preview.text, preview.text
    assert len(preview.items) == 3 and "Story 3" in preview.items[0].title
    assert await outbox(handle) == [], "nothing posted"
    assert await handle.client.zcard(handle.keys.channel_pending(str(HERE))) == 3, "window kept"
    assert "digest of 3 stories" in (await core.handle(ADMIN, "digest")).text
    assert "Nothing is waiting" in (await core.handle(MEMBER, "digest")).text


async def test_the_quiet_message_is_posted_by_the_schedule_alone(
    core: CommandCore, handle: RedisHandle, feed_server: FeedServer
) -> None:
    url = feed_server.add("/daily.xml", feed(1))
    await core.handle(ADMIN, f"subscribe {url}")
    await process_entries(handle)
    await core.handle(ADMIN, "digest")
    await core.handle(ADMIN, "quiet All quiet today.")
    for caller in (ADMIN, MEMBER, ADMIN):
        await core.handle(caller, "digest")
    assert [m["kind"] for m in await outbox(handle)] == ["digest"], "no quiet message on demand"
    scheduler = Scheduler(handle.client, handle.keys)
    await scheduler.build(HERE)  # the slot's build, and a repeat of it (a retry, a race)
    await scheduler.build(HERE)
    quiet = [m for m in await outbox(handle) if m["kind"] == "quiet"]
    assert {m["text"] for m in quiet} == {"All quiet today."}
    assert len({m["delivery"] for m in quiet}) == 1, "one delivery id a slot: posted once"


async def test_schedule_sets_the_next_digest(
    core: CommandCore, handle: RedisHandle, feed_server: FeedServer
) -> None:
    await core.handle(ADMIN, f"subscribe {feed_server.add('/d.xml', feed(1))}")
    reply = await core.handle(ADMIN, "schedule weekdays 08:30 Europe/Berlin")
    assert reply.ok and "weekdays 08:30 Europe/Berlin, next" in reply.text
    due = await handle.client.zscore(handle.keys.digests_due, str(HERE))
    assert due is not None
    local = datetime.fromtimestamp(float(due), UTC).astimezone(ZoneInfo("Europe/Berlin"))
    assert (local.hour, local.minute) == (8, 30) and local.weekday() < 5 and local > NOW
    shown = await core.handle(ADMIN, "schedule")
    assert shown.ok and "weekdays 08:30 Europe/Berlin, next" in shown.text
    off = await core.handle(ADMIN, "schedule off")
    assert "off" in off.text
    assert await handle.client.zscore(handle.keys.digests_due, str(HERE)) is None


async def test_latest_and_search_cover_only_this_channels_feeds(
    core: CommandCore, handle: RedisHandle, feed_server: FeedServer
) -> None:
    await core.handle(ADMIN, f"subscribe {feed_server.add('/mine.xml', feed(6, prefix='Mine'))}")
    other = ChannelRef("slack", "T1", "C2")
    theirs = feed_server.add("/theirs.xml", feed(6, prefix="Theirs"))
    await core.handle(Caller(other, "U", admin=True), f"subscribe {theirs}")
    await process_entries(handle)

    latest = await core.handle(MEMBER, "latest 2")
    assert [item.title for item in latest.items] == [
        "Mine 6: Harbour bridge reopens",
        "Mine 5: Comet visible tonight",
    ]
    found = await core.handle(MEMBER, 'search comet -"report 5"')
    assert [item.title for item in found.items] == ["Mine 2: Comet visible tonight"]
    none = await core.handle(MEMBER, "search zeppelin")
    assert none.ok and not none.items and "No stories" in none.text
    bad = await core.handle(MEMBER, "search (comet")
    assert not bad.ok and "^" in bad.text


async def test_summarize_reads_one_article(core: CommandCore, feed_server: FeedServer) -> None:
    url = feed_server.add("/article.html", page_html(), content_type="text/html")
    reply = await core.handle(MEMBER, f"summarize {url}")
    assert reply.ok and "extractive summary" in reply.text
    assert len(reply.text) > 100
    missing = await core.handle(MEMBER, f"summarize {feed_server.url('/nope.html')}")
    assert not missing.ok and "404" in missing.text


async def test_an_unexpected_error_is_a_refusal_and_a_logged_traceback(
    core: CommandCore, handle: RedisHandle, caplog: pytest.LogCaptureFixture
) -> None:
    """Whatever goes wrong inside a command, the adapter gets a reply and lives on."""
    # A subscription record no version of newsbot writes: reading it fails in the core.
    await handle.client.hset(handle.keys.channel_subs(str(HERE)), "f1", "{not json")
    caplog.set_level(logging.ERROR, logger="bot.commands.core")
    reply = await core.handle(ADMIN, "feeds")
    assert not reply.ok and "something went wrong" in reply.text
    [record] = [r for r in caplog.records if r.getMessage() == "command failed unexpectedly"]
    assert record.exc_info is not None
    assert (await core.handle(ADMIN, "help")).ok, "the core still answers"


async def test_a_private_feeds_credentials_are_shown_only_to_its_channels_managers(
    core: CommandCore, feed_server: FeedServer
) -> None:
    url = feed_server.add("/private.xml", feed(2)).replace("http://", "http://reader:hunter2@")
    subscribed = await core.handle(ADMIN, f"subscribe {url}")
    assert subscribed.ok, subscribed.text
    assert "hunter2" not in subscribed.text
    member_view = (await core.handle(MEMBER, "feeds")).text
    assert "hunter2" not in member_view and "reader:***@" in member_view
    elsewhere = Caller(ChannelRef("slack", "T1", "C2"), user="U_ADMIN", admin=True)
    assert "hunter2" not in (await core.handle(elsewhere, "feeds")).text
    assert "reader:hunter2@" in (await core.handle(ADMIN, "feeds")).text, "its own manager"
    gone = await core.handle(ADMIN, f"unsubscribe {url}")
    assert gone.ok and "hunter2" not in gone.text and "reader:***@" in gone.text


async def test_alerts_are_added_listed_paused_resumed_and_removed(
    core: CommandCore, handle: RedisHandle
) -> None:
    added = await core.handle(MEMBER, 'alert add "harbour bridge" -closure')
    assert added.ok and "Alert a1 added" in added.text and "direct message" in added.text
    assert (await core.handle(MEMBER, "alert add comet")).ok
    listed = await core.handle(MEMBER, "alert list")
    assert "a1: '\"harbour bridge\" -closure' by DM, not fired yet" in listed.text
    assert "a2: 'comet'" in listed.text
    assert "no alerts" in (await core.handle(ADMIN, "alert list")).text, "alerts are personal"
    assert "paused until" in (await core.handle(MEMBER, "alert pause 3d")).text
    assert "Paused until" in (await core.handle(MEMBER, "alert list")).text
    assert "on again" in (await core.handle(MEMBER, "alert resume")).text
    assert "were not paused" in (await core.handle(MEMBER, "alert resume")).text
    refused = await core.handle(ADMIN, "alert remove a1")
    assert not refused.ok and "no alert a1" in refused.text, "only the owner removes an alert"
    assert "Removed alert a1" in (await core.handle(MEMBER, "alert remove a1")).text
    assert "a1" not in (await core.handle(MEMBER, "alert list")).text


async def test_alert_limits_and_channel_alerts_are_enforced(
    handle: RedisHandle, tmp_path: Path, redis_url: str
) -> None:
    strict = make_settings(
        tmp_path,
        NEWSBOT_REDIS_URL=redis_url,
        NEWSBOT_ALERTS_PER_USER="2",
        NEWSBOT_ALERT_QUERY_MAX="20",
    )
    async with Fetcher(policy=allow_any) as fetcher:
        core = CommandCore(client=handle.client, keys=handle.keys, settings=strict, fetcher=fetcher)
        long = await core.handle(MEMBER, "alert add harbour bridge reopens after repairs")
        assert not long.ok and "at most 20 characters" in long.text
        for word in ("harbour", "comet"):
            assert (await core.handle(MEMBER, f"alert add {word}")).ok
        third = await core.handle(MEMBER, "alert add wheat")
        assert not third.ok and "you have 2 alerts, the most allowed" in third.text
        channel = await core.handle(MEMBER, "alert add wheat in <#C9>")
        assert not channel.ok and "only channel managers" in channel.text
        made = await core.handle(ADMIN, "alert add wheat in <#C9|farming>")
        assert made.ok and "posted in channel C9" in made.text
        dm = Caller(ChannelRef("discord", "dm", "42"), user="42")
        assert "in a channel" in (await core.handle(dm, "alert add wheat")).text


async def test_a_feed_added_from_chat_leaves_with_its_last_subscription(
    core: CommandCore, handle: RedisHandle, feed_server: FeedServer
) -> None:
    """Issue #15: nobody follows it, so nobody polls it; feeds the CLI or the config added
    stay until removed there."""
    watchlist = Watchlist(handle.client, handle.keys)
    there = Caller(ChannelRef("slack", "T1", "C2"), user="U_ADMIN", admin=True)
    chat_feed = feed_server.add("/chat.xml", feed(2))
    await core.handle(ADMIN, f"subscribe {chat_feed}")
    await core.handle(there, f"subscribe {chat_feed}")
    first = await core.handle(ADMIN, f"unsubscribe {chat_feed}")
    assert "stops fetching" not in first.text and await watchlist.get(chat_feed)
    last = await core.handle(there, f"unsubscribe {chat_feed}")
    assert "No channel follows it any more" in last.text
    assert await watchlist.get(chat_feed) is None

    cli_feed = feed_server.add("/cli.xml", feed(2, prefix="Cli"))
    await watchlist.add(cli_feed, now=0)  # as `newsbot feeds add` or newsbot.toml does
    await core.handle(ADMIN, f"subscribe {cli_feed}")
    await core.handle(ADMIN, f"unsubscribe {cli_feed}")
    assert await watchlist.get(cli_feed) is not None

    adopted = feed_server.add("/adopted.xml", feed(2, prefix="Adopted"))
    await core.handle(ADMIN, f"subscribe {adopted}")
    await watchlist.add(adopted, now=0)  # the CLI adds it too: it stays for good
    await core.handle(ADMIN, f"unsubscribe {adopted}")
    assert await watchlist.get(adopted) is not None


async def test_managers_set_mode_filter_and_quiet_message_from_chat(
    core: CommandCore, handle: RedisHandle, feed_server: FeedServer
) -> None:
    """Issue #15: the channel settings a manager could only set in newsbot.toml."""
    url = feed_server.add("/daily.xml", feed(6))
    await core.handle(ADMIN, f"subscribe {url}")
    await process_entries(handle)
    store = SubscriptionStore(handle.client, handle.keys)

    assert (await core.handle(ADMIN, "mode f1 instant")).text == (
        "f1 now reaches this channel in instant mode."
    )
    assert (await store.get(HERE, "f1")).mode == "instant"  # type: ignore[union-attr]

    tested = await core.handle(ADMIN, "filter f1 test comet OR wheat")
    assert tested.ok and "passes 4 and blocks 2" in tested.text, tested.text
    assert tested.text.count("\n  pass ") == 4 and tested.text.count("\n  block") == 2
    assert (await store.get(HERE, "f1")).filter == "", "a test changes nothing"  # type: ignore[union-attr]

    assert (await core.handle(ADMIN, "filter f1 comet OR wheat")).ok
    assert (await store.get(HERE, "f1")).filter == "comet OR wheat"  # type: ignore[union-attr]
    feeds = await core.handle(ADMIN, "feeds")
    assert "[instant, filter 'comet OR wheat']" in feeds.text and "matched none" not in feeds.text
    await core.handle(ADMIN, "filter f1 volcano")
    assert (
        "the filter matched none of the feed's 6 stories of 7 days"
        in (await core.handle(ADMIN, "feeds")).text
    )
    assert (await core.handle(ADMIN, "filter f1 off")).ok
    assert (await store.get(HERE, "f1")).filter == ""  # type: ignore[union-attr]

    assert "says: Nothing new today." in (await core.handle(ADMIN, "quiet Nothing new today.")).text
    assert (await store.channel_settings(HERE))["quiet_message"] == "Nothing new today."
    await core.handle(ADMIN, "quiet off")
    assert not (await store.channel_settings(HERE)).get("quiet_message")

    for command in ("mode f1 digest", "filter f1 comet", "filter f1 test comet", "quiet hi"):
        refused = await core.handle(MEMBER, command)
        assert not refused.ok and "only channel managers" in refused.text, command
    wrong = await core.handle(ADMIN, "filter f9 comet")
    assert not wrong.ok and "no feed 'f9'" in wrong.text
    bad = await core.handle(ADMIN, "filter f1 (comet")
    assert not bad.ok


async def test_subscriptions_stop_at_the_channel_and_workspace_limits(
    settings: Settings, handle: RedisHandle, feed_server: FeedServer
) -> None:
    limited = replace(settings, subscriptions_per_channel=2, subscriptions_per_workspace=3)
    urls = [feed_server.add(f"/f{n}.xml", feed(1, prefix=f"F{n}")) for n in range(4)]
    other = Caller(ChannelRef("slack", "T1", "C2"), user="U_ADMIN", admin=True)
    async with Fetcher(policy=allow_any) as fetcher:
        core = CommandCore(
            client=handle.client, keys=handle.keys, settings=limited, fetcher=fetcher
        )
        assert (await core.handle(ADMIN, f"subscribe {urls[0]}")).ok
        assert (await core.handle(ADMIN, f"subscribe {urls[1]}")).ok
        full = await core.handle(ADMIN, f"subscribe {urls[2]}")
        assert not full.ok and "follows 2 feeds, the most allowed" in full.text
        assert (await core.handle(ADMIN, f"subscribe {urls[1]} instant")).ok, "a change is fine"
        assert (await core.handle(other, f"subscribe {urls[2]}")).ok
        workspace = await core.handle(other, f"subscribe {urls[3]}")
        assert not workspace.ok and "this workspace has 3 subscriptions" in workspace.text


async def test_filter_test_and_the_silent_flag_judge_what_routing_judged(
    core: CommandCore, handle: RedisHandle
) -> None:
    """Author and feed text count in `filter … test` as they do live, and each line shows
    the feed's own copy, never another feed's copy of the same story."""
    watchlist = Watchlist(handle.client, handle.keys)
    mine, _ = await watchlist.add("https://mine.example.com/rss", now=0)
    other, _ = await watchlist.add("https://other.example.com/rss", now=0)
    await SubscriptionStore(handle.client, handle.keys).subscribe(HERE, mine.id, now=0)
    shared = "https://news.example.com/storm"
    pipeline = build_pipeline(handle.client, handle.keys, ttl=30 * 86400)
    for feed_id, title, author in [
        (other.id, "Internal: storm plan codeword", "Bob Other"),
        (mine.id, "Storm reaches the coast", "Alice Smith"),
    ]:
        entry = article(
            feed_id=feed_id,
            entry_key=f"{feed_id}-1",
            url=shared,
            title=title,
            author=author,
            description="<p>Short lead. Then a second sentence with the word lighthouse.</p>",
            published=NOW - timedelta(hours=1),
            seen_at=NOW,
        )
        await pipeline.process([entry])
    tested = (await core.handle(ADMIN, f"filter {mine.id} test author:alice")).text
    assert "passes 1" in tested and "Storm reaches the coast" in tested, tested
    assert "codeword" not in tested and "Bob" not in tested
    assert "passes 0" in (await core.handle(ADMIN, f"filter {mine.id} test author:bob")).text
    await core.handle(ADMIN, f"filter {mine.id} author:alice")
    assert "matched none" not in (await core.handle(ADMIN, "feeds")).text


async def test_a_members_next_command_clears_a_closed_dm_and_a_pause_that_is_over(
    core: CommandCore, handle: RedisHandle
) -> None:
    """Neither record outlives its use: today only `alert resume` cleared them."""
    store = AlertStore(handle.client, handle.keys)
    await store.add(origin=HERE, user="U_MEMBER", query="storm", channel=None, limit=25, now=0)
    assert await store.dms_closed("slack", "U_MEMBER", 0) == str(HERE)
    assert await store.pause_state("slack", "U_MEMBER", 0) == "closed"
    assert "closed" in (await core.handle(MEMBER, "alert list")).text.lower(), "shown, kept"
    await core.handle(MEMBER, "latest")
    assert await store.pause_state("slack", "U_MEMBER", 0) == ""
    assert not await handle.client.hexists(handle.keys.dm_closed("slack"), "U_MEMBER")
    assert await store.dms_closed("slack", "U_MEMBER", 0) == str(HERE), "told again next time"
    await store.pause("slack", "U_MEMBER", time.time() - 1)  # a pause that is over
    await core.handle(MEMBER, "help")
    assert not await handle.client.hexists(handle.keys.alerts_paused, "slack:U_MEMBER")
    await store.pause("slack", "U_MEMBER", time.time() + 3600)  # one that is not
    await core.handle(MEMBER, "help")
    assert await store.pause_state("slack", "U_MEMBER", time.time()) != ""


async def test_a_quiet_blogs_old_posts_reach_the_first_digest_as_promised(
    core: CommandCore, handle: RedisHandle, feed_server: FeedServer
) -> None:
    """A blog whose newest post is 40 days old (past the 30-day retention): the subscribe
    reply promises its newest to the next digest, and the digest holds them."""
    old = NOW - timedelta(days=40)
    posts = [
        {"title": f"Post {n}", "guid": str(n), "link": f"https://b.example/{n}",
         "published": old - timedelta(days=n)}
        for n in range(3)
    ]  # fmt: skip
    url = feed_server.add("/quiet.xml", rss("Quiet blog", posts))
    reply = await core.handle(ADMIN, f"subscribe {url}")
    assert "The 3 newest go into the next digest" in reply.text, reply.text
    await process_entries(handle)
    digest = await core.handle(ADMIN, "digest")
    assert digest.ok and "Posting a digest of 3 stories now" in digest.text, digest.text
