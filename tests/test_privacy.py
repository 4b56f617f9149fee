"""Privacy between channels, as a property over random deployments, through the real paths.

Hypothesis draws a deployment: two Slack workspaces and a Discord guild, public and private
channels, feeds that are shared or not (and some the operator watches that nobody follows),
and copies of a few events: by the same address, by syndication (the same text at another
address) and from other outlets (`story-events` entries), arriving in a random order. The
real pipeline ingests them into a real Redis; the scheduler, the outbox contents and the
platform renderers make every post, digest and alert; the command core answers `latest`,
`search`, `feeds` and `filter … test`.

Every copy carries words of its own: a code word in its title and text, its feed's outlet
name and, but for copies that share an address, its own link. The test works out, on its
own and from the rule as SECURITY.md states it, which feeds each audience may see, and
asserts that nothing of a copy from any other feed reaches that audience. It also asserts
that every story that reached one of a channel's own feeds was posted there, so the rule
cannot be met by posting nothing.
"""

from __future__ import annotations

import asyncio
import functools
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.commands.caller import Caller
from bot.commands.core import CommandCore
from bot.net.fetch import Fetcher
from bot.net.guard import allow_any
from bot.render.discord_embeds import render_discord, render_discord_alert, render_discord_reply
from bot.render.slack_blocks import render_slack, render_slack_alert, render_slack_reply
from bot.roles.outbox_contents import message_contents
from bot.roles.pipeline import build_pipeline
from bot.roles.scheduler import Scheduler
from bot.settings import Settings
from bot.store.alerts import AlertStore
from bot.store.audience import AudienceStore
from bot.store.connection import open_redis
from bot.store.frequencies import RedisFrequencies
from bot.store.subscriptions import SubscriptionStore
from bot.store.watchlist import Watchlist
from handlers.alerts import AlertMessage
from handlers.article import Article
from handlers.channels import ChannelRef
from handlers.reply import Reply
from tests.articles import article
from tests.bot.roles.test_folding import AUSTRALIA, AUSTRALIA_ABC
from tests.conftest import SHARED, PrivateRedis, make_settings
from tests.world_news import world_news_words

NOW = datetime(2026, 2, 18, 3, 30, tzinfo=UTC)  # just after the story-events feeds' week
WORKSPACES = [("slack", "T1"), ("slack", "T2"), ("discord", "900000000000000001")]
FEEDS = 6
KINDS = ("address", "syndication", "outlets")


@functools.cache
def outlet_reports() -> list[list[tuple[str, str]]]:
    """(title, lead) of real reports of one event by several outlets, event by event."""
    from bot.net.parse import FeedRef, parse_feed

    rows = (SHARED / "data" / "story-events" / "events-dev.tsv").read_text().splitlines()[1:]
    wanted: dict[str, list[tuple[str, int]]] = {"boats/11-killed": [], "eu/rubio-budapest": []}
    for row in rows:
        feed, index, _published, event, _title = row.split("\t")
        if event in wanted:
            wanted[event].append((feed, int(index)))
    reports = [[AUSTRALIA, AUSTRALIA_ABC]]
    for found in wanted.values():
        texts = []
        for feed, index in found:
            data = (SHARED / "data" / "feeds-real" / feed).read_bytes()
            entry = parse_feed(data, FeedRef(feed, feed)).articles[index]
            texts.append((entry.title, entry.description or entry.content))
        reports.append(texts)
    return reports


@dataclass(frozen=True)
class Channel:
    ref: ChannelRef
    public: bool
    feeds: frozenset[int]
    instant: bool


@dataclass(frozen=True)
class Copy:
    event: int
    feed: int
    kind: str
    variant: int

    @property
    def word(self) -> str:
        """A word only this copy has."""
        return f"zq{self.feed}x{self.event}"


@dataclass
class Deployment:
    channels: list[Channel]
    watched_only: frozenset[int]  # feeds the operator watches that no channel follows
    copies: list[Copy]
    alerts: list[tuple[int, bool]]  # (channel number, channel alert?)

    def outlet(self, feed: int) -> str:
        return f"Outlet{feed}qv"

    def link(self, copy: Copy) -> str:
        if copy.kind == "address":
            return f"https://news.example.com/shared/{copy.event}"
        return f"https://feed{copy.feed}.example.com/{copy.kind}/{copy.event}"

    def followed(self, feed: int) -> bool:
        return any(feed in c.feeds for c in self.channels)

    def visible(self, channel: Channel) -> set[int]:
        """The rule, worked out apart from the code under test."""
        seen = set(channel.feeds) | set(self.watched_only)
        for other in self.channels:
            same_place = other.ref.workspace == channel.ref.workspace
            if other.public and same_place and other.ref.platform == channel.ref.platform:
                seen |= other.feeds
        return seen


@st.composite
def deployments(draw: st.DrawFn) -> Deployment:
    channels = []
    for platform, workspace in WORKSPACES:
        for n in range(draw(st.integers(1, 2))):
            feeds = draw(st.frozensets(st.integers(1, FEEDS), min_size=1, max_size=3))
            channels.append(
                Channel(
                    ChannelRef(platform, workspace, f"C{workspace[-1]}{n}"),
                    public=draw(st.booleans()),
                    feeds=feeds,
                    instant=draw(st.booleans()),
                )
            )
    watched_only = draw(st.frozensets(st.integers(1, FEEDS), max_size=2))
    watched_only = frozenset(f for f in watched_only if not any(f in c.feeds for c in channels))
    copies = []
    for event in range(draw(st.integers(1, 3))):
        kind = draw(st.sampled_from(KINDS))
        feeds = draw(st.lists(st.integers(1, FEEDS), min_size=2, max_size=3, unique=True))
        copies += [Copy(event, feed, kind, n) for n, feed in enumerate(feeds)]
    order = draw(st.permutations(copies))
    alerts = [
        (draw(st.integers(0, len(channels) - 1)), draw(st.booleans()))
        for _ in range(draw(st.integers(0, 2)))
    ]
    return Deployment(channels, watched_only, list(order), alerts)


def entry(plan: Deployment, copy: Copy) -> Article:
    """A copy as its feed would bring it, with its own word in its title and text."""
    if copy.kind == "outlets":
        reports = outlet_reports()[copy.event % len(outlet_reports())]
        title, lead = reports[copy.variant % len(reports)]
    else:
        title, lead = AUSTRALIA if copy.event % 2 else outlet_reports()[1][0]
        title = f"{title} ({copy.event})"
    return article(
        feed_id=f"f{copy.feed}",
        feed_url=f"https://feed{copy.feed}.example.com/rss",
        source=plan.outlet(copy.feed),
        entry_key=f"{copy.kind}-{copy.event}-{copy.feed}",
        url=plan.link(copy),
        title=f"{title} {copy.word}",
        description=f"<p>{lead} Code word {copy.word} here.</p>",
        published=NOW - timedelta(minutes=30 + copy.variant),
        seen_at=NOW,
    )


@dataclass
class Seen:
    """Everything one audience was shown, as text."""

    parts: list[str] = field(default_factory=list)

    def add(self, *what: object) -> None:
        self.parts += [json.dumps(w, default=repr) if not isinstance(w, str) else w for w in what]

    @property
    def text(self) -> str:
        return "\n".join(self.parts)


def render(platform: str, contents: Any) -> list[Any]:
    if isinstance(contents, str):
        return [contents]
    if isinstance(contents, AlertMessage):
        return (
            render_slack_alert(contents) if platform == "slack" else render_discord_alert(contents)
        )
    return render_slack(contents) if platform == "slack" else render_discord(contents)


def reply_shown(platform: str, reply: Reply) -> Any:
    return render_slack_reply(reply) if platform == "slack" else render_discord_reply(reply)


async def run(plan: Deployment, config: Settings) -> None:
    async with open_redis(config) as handle:
        client, keys = handle.client, handle.keys
        await client.flushdb()
        clock = NOW.timestamp
        await RedisFrequencies(client, keys, clock=clock).learn(world_news_words())
        watchlist, subs = Watchlist(client, keys), SubscriptionStore(client, keys)
        for feed in range(1, FEEDS + 1):
            record, _ = await watchlist.add(f"https://feed{feed}.example.com/rss", now=0)
            assert record.id == f"f{feed}"
        for channel in plan.channels:
            for feed in channel.feeds:
                mode = "instant" if channel.instant else "digest"
                await subs.subscribe(channel.ref, f"f{feed}", now=0, mode=mode, added_by="U0")
            await subs.set_visibility(channel.ref, public=channel.public)
        for feed in range(1, FEEDS + 1):  # drop the feeds that are neither followed nor kept
            if not plan.followed(feed) and feed not in plan.watched_only:
                await watchlist.remove(f"f{feed}")
        audiences = AudienceStore(client, keys, clock=clock)
        alert_store = AlertStore(client, keys)
        alert_audience: dict[str, set[int]] = {}
        for number, (where, in_channel) in enumerate(plan.alerts):
            channel = plan.channels[where]
            user = f"U{number}"
            await audiences.record_members(channel.ref, [user])
            made = await alert_store.add(
                origin=channel.ref,
                user=user,
                query="australia OR boat OR boats OR rubio OR killed OR syria",
                channel=channel.ref if in_channel else None,
                limit=25,
                now=clock(),
            )
            alert_audience[made.target] = plan.visible(channel)

        pipeline = build_pipeline(client, keys, ttl=30 * 86400, clock=clock)
        story_of: dict[Copy, str] = {}
        for copy in plan.copies:
            [stored] = (await pipeline.process([entry(plan, copy)])).articles
            story_of[copy] = stored.story_id
        scheduler = Scheduler(client, keys, clock=clock)
        for channel in plan.channels:
            await scheduler.post_now(channel.ref)
        await alert_store.flush_due(clock() + 3600)

        seen: dict[str, Seen] = {}
        posts: dict[str, Seen] = {}
        for platform in ("slack", "discord"):
            for _id, message in await client.xrange(keys.outbox(platform)):
                contents = await message_contents(client, keys, message, audiences=audiences)
                shown = render(platform, contents) if contents is not None else []
                seen.setdefault(message["channel"], Seen()).add(*shown)
                if message["kind"] in {"story", "digest"}:
                    posts.setdefault(message["channel"], Seen()).add(*shown)

        async with Fetcher(policy=allow_any) as fetcher:
            core = CommandCore(
                client=client, keys=keys, settings=config, fetcher=fetcher, clock=clock
            )
            words = sorted({c.word for c in plan.copies} | {"australia", "boats", "rubio"})
            for channel in plan.channels:
                out = seen.setdefault(str(channel.ref), Seen())
                caller = Caller(channel.ref, user="U0", admin=True)
                platform = channel.ref.platform
                for command in ["latest 50", "feeds"] + [
                    f"filter f{f} test australia OR boats" for f in sorted(channel.feeds)
                ]:
                    out.add(reply_shown(platform, await core.handle(caller, command)))
                for word in words:
                    reply = await core.handle(caller, f"search {word}")
                    # The reply names the query itself: look at what it found.
                    out.add(reply_shown(platform, Reply("", reply.items)))
                    out.add(reply.text.replace(repr(word), ""))

        for channel in plan.channels:
            check(plan, plan.visible(channel), seen.get(str(channel.ref), Seen()), channel.ref)
            arrived(story_of, channel.feeds, posts.get(str(channel.ref), Seen()), channel.ref)
        for target, visible in alert_audience.items():
            check(plan, visible, seen.get(target, Seen()), target)
            arrived(story_of, visible, seen.get(target, Seen()), target)


def check(plan: Deployment, visible: set[int], seen: Seen, audience: object) -> None:
    """Nothing of a copy from a feed `audience` may not see is in what it was shown."""
    shown = seen.text.lower()
    shared_links = {plan.link(c) for c in plan.copies if c.feed in visible}
    for copy in plan.copies:
        if copy.feed in visible:
            continue
        assert copy.word not in shown, f"{audience} was shown {copy} ({copy.word})"
        assert plan.outlet(copy.feed).lower() not in shown, f"{audience} saw feed {copy.feed}"
        link = plan.link(copy)
        if link not in shared_links:
            assert link.lower() not in shown, f"{audience} was shown the link of {copy}"


def arrived(
    story_of: dict[Copy, str], feeds: set[int] | frozenset[int], seen: Seen, who: object
) -> None:
    """Every story with a copy from `feeds` reached the audience, shown by one of those
    copies: a channel's posts by its own feeds' copies, an alert by copies it may see (every
    drawn story matches the alerts' query)."""
    shown = seen.text.lower()
    for story in sorted(set(story_of.values())):
        mine = [c for c, s in story_of.items() if s == story and c.feed in feeds]
        if mine:
            assert any(c.word in shown for c in mine), f"{who} never got the story of {mine}"


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(plan=deployments())
def test_no_audience_sees_a_copy_it_may_not_and_every_visible_story_arrives(
    plan: Deployment, redis_server: PrivateRedis, tmp_path_factory: Any
) -> None:
    config = make_settings(tmp_path_factory.mktemp("privacy"), NEWSBOT_REDIS_URL=redis_server.url)
    asyncio.run(run(plan, config))


def test_the_drawn_copies_fold(redis_server: PrivateRedis, tmp_path_factory: Any) -> None:
    """The property is only worth something if copies fold: one deployment where each kind
    of copy folds into one story, which a private channel's copy must not leak from."""
    public = Channel(ChannelRef("slack", "T1", "CPUB"), True, frozenset({1}), instant=True)
    private = Channel(ChannelRef("slack", "T1", "CPRIV"), False, frozenset({2}), instant=True)
    copies = [
        Copy(e, feed, kind, n) for e, kind in enumerate(KINDS) for n, feed in enumerate((2, 1))
    ]
    plan = Deployment([public, private], frozenset(), copies, [(0, False)])
    config = make_settings(tmp_path_factory.mktemp("privacy"), NEWSBOT_REDIS_URL=redis_server.url)

    async def stories() -> int:
        await run(plan, config)
        async with open_redis(config) as handle:
            return int(await handle.client.zcard(handle.keys.stories))

    assert asyncio.run(stories()) == len(KINDS), "each event's two copies fold into one story"
