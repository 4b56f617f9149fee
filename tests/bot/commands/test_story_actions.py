"""Actions on a posted story, through the command core: what each answers, to whom, once.

Two channels of one workspace share stories: a public one following the news feed and a
private one following an internal feed whose copies fold into the news stories
(`tests.privacy_feeds`). Coverage in the public channel must never show an internal copy.
"""

from __future__ import annotations

import json

import pytest

from bot.commands.caller import Caller
from bot.commands.core import CommandCore
from bot.render.slack_blocks import render_slack_reply
from bot.roles.alerting import AlertStep
from bot.roles.outbox_contents import message_contents
from bot.store.audience import AudienceStore
from bot.store.connection import RedisHandle
from bot.store.stories import load_stories
from bot.store.story_marks import StoryMarks
from handlers.channels import ChannelRef
from handlers.digest import Digest
from handlers.feedback import MARKS
from handlers.outbox_message import OutboxMessage
from handlers.story_actions import action_value, parse_action
from tests.articles import article, rss
from tests.bot.commands.test_core import process_entries
from tests.fakes.feed_server import FeedServer
from tests.privacy_feeds import SECRETS, internal_feed, news_feed

PUBLIC = ChannelRef("slack", "T1", "CPUB")
PRIVATE = ChannelRef("slack", "T1", "CPRIV")
ADMIN = Caller(PUBLIC, user="U_ADMIN", admin=True, public=True)
MEMBER = Caller(PUBLIC, user="U_MEMBER", public=True)
OTHER = Caller(PUBLIC, user="U_OTHER", public=True)
INSIDER = Caller(PRIVATE, user="U_INSIDE", admin=True, public=False)
LONG_PAGE = "<html><head><title>Comet</title></head><body><article>{}</article></body></html>"
SENTENCES = [
    "Astronomers at the northern observatory confirmed the comet's brightness on Monday.",
    "The comet passed closest to the sun last week and survived the encounter intact.",
    "Amateur observers in rural areas reported seeing a faint green tail after dusk.",
    "Weather services expect clear skies across most of the region through Thursday.",
    "Planetarium staff will host free viewing evenings with telescopes for families.",
    "Scientists hope spectra taken this week reveal the ices trapped inside its nucleus.",
    "The last comet this bright appeared more than a decade ago, in early spring.",
    "City councils agreed to dim street lights in three parks to help stargazers.",
    "Photographers recommend a tripod and exposures of several seconds for good pictures.",
    "The comet will not return to the inner solar system for roughly six thousand years.",
]


async def shared_stories(
    core: CommandCore, handle: RedisHandle, feed_server: FeedServer
) -> dict[str, str]:
    """Both channels subscribed and their feeds processed; story id by each copy's title."""
    news = feed_server.add("/news.xml", news_feed())
    internal = feed_server.add("/internal.xml?token=s3cret", internal_feed())
    assert (await core.handle(ADMIN, f"subscribe {news}")).ok
    assert (await core.handle(INSIDER, f"subscribe {internal}")).ok
    await process_entries(handle)
    ids = [str(i) for i in await handle.client.zrange(handle.keys.stories, 0, -1)]
    stories = await load_stories(handle.client, handle.keys, ids)
    return {c.title: s.id for s in stories for c in s.copies}


async def test_coverage_lists_only_the_copies_the_channel_may_see(
    core: CommandCore, handle: RedisHandle, feed_server: FeedServer
) -> None:
    ids = await shared_stories(core, handle, feed_server)
    bridge = ids["Harbour bridge reopens after repairs"]
    stories = await load_stories(handle.client, handle.keys, [bridge])
    assert len({c.feed_id for c in stories[0].copies}) == 2, "the internal copy folded in"

    public = await core.act(MEMBER, action_value("coverage", bridge))
    assert public.ok and "news.example/bridge" in public.text
    assert not [s for s in SECRETS if s.lower() in public.text.lower()], public.text
    assert "1 outlet" in public.text

    inside = await core.act(INSIDER, action_value("coverage", bridge))
    assert inside.ok and "Zebra-42" in inside.text, "the private channel sees its own copy"
    lines = [line for line in inside.text.splitlines() if line.startswith("•")]
    assert len(lines) == 2 and "Daily News" in lines[0], "newest first: the news copy"


async def test_a_story_the_channel_cannot_see_is_not_available_there(
    core: CommandCore, handle: RedisHandle, feed_server: FeedServer
) -> None:
    await shared_stories(core, handle, feed_server)
    memo = {
        "title": "Quarterly zebra memo",
        "link": "https://intranet.example/memo",
        "guid": "memo",
        "description": "Internal only, zebra45.",
    }
    memos = feed_server.add("/memo.xml?token=s3cret", rss("Memo", [memo]))
    assert (await core.handle(INSIDER, f"subscribe {memos}")).ok
    await process_entries(handle)
    ids = [str(i) for i in await handle.client.zrange(handle.keys.stories, 0, -1)]
    stories = await load_stories(handle.client, handle.keys, ids)
    secret = next(s for s in stories if s.primary().title == "Quarterly zebra memo")
    for action in ("summary", "coverage", "up", "mute"):
        reply = await core.act(ADMIN, action_value(action, secret.id))
        assert not reply.ok and "not available in this channel" in reply.text, action
    assert not (await core.story(ADMIN, secret.id)).items
    gone = await core.act(ADMIN, action_value("coverage", "0123456789abcdef"))
    assert not gone.ok and "no longer stored" in gone.text
    forged = await core.act(ADMIN, "nb:delete:0123456789abcdef")
    assert not forged.ok and "does not know that button" in forged.text


async def test_feedback_counts_once_per_member_and_moves_the_channels_weights(
    core: CommandCore, handle: RedisHandle, feed_server: FeedServer
) -> None:
    ids = await shared_stories(core, handle, feed_server)
    comet = ids["Comet visible tonight"]
    first = await core.act(MEMBER, action_value("up", comet))
    assert first.ok and "👍 noted" in first.text
    again = await core.act(MEMBER, action_value("down", comet))
    assert "already gave feedback" in again.text, "once per member per story, either mark"
    other = await core.act(OTHER, action_value("up", comet))
    assert "noted" in other.text
    weights, marks = await StoryMarks(handle.client, handle.keys).weights(PUBLIC)
    assert marks == 2
    assert weights["s:f1"] == pytest.approx(2.0, abs=0.01)
    assert weights["t:visible"] == pytest.approx(2.0, abs=0.01)
    raw = await handle.client.hget(handle.keys.channel_feedback(str(PUBLIC)), MARKS)
    assert int(raw) == 2
    private_weights, _ = await StoryMarks(handle.client, handle.keys).weights(PRIVATE)
    assert not private_weights, "feedback is the channel's own"


async def test_mute_is_for_managers_and_keeps_the_story_out_of_the_digest(
    core: CommandCore, handle: RedisHandle, feed_server: FeedServer
) -> None:
    ids = await shared_stories(core, handle, feed_server)
    comet = ids["Comet visible tonight"]
    pending = handle.keys.channel_pending(str(PUBLIC))
    assert await handle.client.zscore(pending, comet) is not None

    refused = await core.act(MEMBER, action_value("mute", comet))
    assert not refused.ok and "managers only" in refused.text
    assert await handle.client.zscore(pending, comet) is not None, "a member changes nothing"

    muted = await core.act(ADMIN, action_value("mute", comet))
    assert muted.ok and "Muted" in muted.text
    assert (
        "muted in this channel already" in (await core.act(ADMIN, action_value("mute", comet))).text
    )
    assert await handle.client.zscore(pending, comet) is None
    preview = await core.handle(MEMBER, "digest")
    assert "Comet" not in " ".join(i.title for i in preview.items)
    assert len(preview.items) == 2


async def test_a_channel_alert_skips_a_story_muted_in_its_channel(
    core: CommandCore, handle: RedisHandle, feed_server: FeedServer
) -> None:
    ids = await shared_stories(core, handle, feed_server)
    comet = ids["Comet visible tonight"]
    assert (await core.handle(ADMIN, "alert add comet in <#CPUB>")).ok
    await core.act(ADMIN, action_value("mute", comet))
    step = AlertStep(handle.client, handle.keys, ttl=86400)
    copy = article(title="Comet visible tonight, again", id="c1", copy_of=comet)
    wheat_id = ids["Wheat harvest breaks a record"]
    wheat = article(title="Comet and wheat", entry_key="guid-2", id="c2", copy_of=wheat_id)
    await step.run([copy, wheat])
    queued = await handle.client.lrange(handle.keys.channel_out(str(PUBLIC)), 0, -1)
    outbox = await handle.client.xrange(handle.keys.outbox("slack"))
    sent = " ".join([*map(str, queued), *(str(f) for _i, f in outbox)])
    assert wheat_id in sent, "the alert works"
    assert comet not in sent, "the muted story is skipped"


async def test_summary_reads_the_page_for_five_sentences_or_says_it_shows_the_stored_one(
    core: CommandCore, handle: RedisHandle, feed_server: FeedServer
) -> None:
    ids = await shared_stories(core, handle, feed_server)
    comet = ids["Comet visible tonight"]
    feed_server.add(
        "/comet-page",
        LONG_PAGE.format(" ".join(f"<p>{s}</p>" for s in SENTENCES)),
        content_type="text/html",
    )
    # Point the stored copy at the local page (the feed's link is not served here).
    key = handle.keys.story(comet)
    stored = json.loads(await handle.client.get(key))
    for copy in stored["c"].values():
        if copy["u"] == "https://news.example/comet":
            copy["u"] = feed_server.url("/comet-page")
    await handle.client.set(key, json.dumps(stored))
    reply = await core.act(MEMBER, action_value("summary", comet))
    assert reply.ok, reply.text
    shown = [s for s in SENTENCES if s in reply.text]
    assert len(shown) == 5, repr(reply.text)

    wheat = ids["Wheat harvest breaks a record"]  # its page is not served: the stored summary
    fallback = await core.act(MEMBER, action_value("summary", wheat))
    assert fallback.ok and "this is the stored summary" in fallback.text
    assert "largest wheat harvest" in fallback.text


def test_an_action_value_names_one_known_action_and_one_story() -> None:
    value = action_value("coverage", "00ff")
    assert parse_action(value) is not None and len(value) <= 100
    for forged in ("nb:coverage:", "nb:drop:00ff", "coverage:00ff", "nb:up:00ff:x", "nb:up:ZZ"):
        assert parse_action(forged) is None, forged


async def test_trending_counts_the_outlets_each_channel_may_see(
    core: CommandCore, handle: RedisHandle, feed_server: FeedServer
) -> None:
    await shared_stories(core, handle, feed_server)
    public = await core.handle(MEMBER, "trending")
    assert public.ok and "last 6 h" in public.text
    assert "+1 (1 in all, first: Daily News) Harbour bridge reopens" in public.text
    assert not [s for s in SECRETS if s.lower() in public.text.lower()], public.text
    inside = await core.handle(INSIDER, "trending 2")
    assert "+2 (2 in all" in inside.text, inside.text
    empty = await core.handle(Caller(ChannelRef("slack", "T1", "CNONE"), user="U"), "trending")
    assert "no feeds yet" in empty.text


async def test_the_rank_order_a_manager_chooses_and_the_smart_default_after_twenty_marks(
    core: CommandCore, handle: RedisHandle, feed_server: FeedServer
) -> None:
    ids = await shared_stories(core, handle, feed_server)

    async def order() -> list[str]:
        return [i.title for i in (await core.handle(MEMBER, "digest")).items]

    assert (await order())[0] == "Wheat harvest breaks a record", "default: newest first"
    assert "managers" in (await core.handle(MEMBER, "rank time")).text
    assert "default order" in (await core.handle(MEMBER, "rank")).text
    bridge = ids["Harbour bridge reopens after repairs"]
    for n in range(19):
        await core.act(Caller(PUBLIC, user=f"U{n}", public=True), action_value("up", bridge))
    assert (await order())[0] == "Wheat harvest breaks a record", "19 marks: still the default"
    await core.act(Caller(PUBLIC, user="U19", public=True), action_value("up", bridge))
    assert (await order())[0] == "Harbour bridge reopens after repairs", "smart after 20"
    feeds = await core.handle(ADMIN, "feeds")
    assert "feedback +20.0" in feeds.text
    assert "time, newest first" in (await core.handle(ADMIN, "rank time")).text
    assert (await order())[0] == "Wheat harvest breaks a record"


async def test_a_channels_style_is_set_by_managers_previewed_and_used_for_its_posts(
    core: CommandCore, handle: RedisHandle, feed_server: FeedServer
) -> None:
    ids = await shared_stories(core, handle, feed_server)
    assert "managers" in (await core.handle(MEMBER, "style compact")).text
    assert "compact style" in (await core.handle(ADMIN, "style compact")).text
    assert "compact style" in (await core.handle(MEMBER, "style")).text
    wrong = await core.handle(ADMIN, "style template {headline} at {link}")
    assert not wrong.ok and "unknown placeholder {headline}" in wrong.text
    assert (await core.handle(ADMIN, "style template *{title}* — {source} {link}")).ok
    preview = await core.handle(MEMBER, "style test")
    assert preview.ok and preview.style.name == "template" and len(preview.items) == 1
    shown = render_slack_reply(preview)["blocks"][1]["text"]["text"]
    assert shown.startswith("*Wheat harvest breaks a record* — Daily News <https://news.example")

    message = OutboxMessage.story(str(PUBLIC), ids["Comet visible tonight"]).fields()
    contents = await message_contents(
        handle.client, handle.keys, message, audiences=AudienceStore(handle.client, handle.keys)
    )
    assert isinstance(contents, Digest) and contents.style.template.startswith("*{title}*")
    inside = OutboxMessage.story(str(PRIVATE), ids["Comet visible tonight"]).fields()
    other = await message_contents(
        handle.client, handle.keys, inside, audiences=AudienceStore(handle.client, handle.keys)
    )
    assert isinstance(other, Digest) and other.style.name == "standard", "per channel"
