"""Issue #22, item 3: Markdown in a feed's title is shown, never obeyed, on every Discord
path outside embeds: replies (the subscribe confirmation, the feed list, the feeds a page
names) and notices (a feed failing, a feed back). The walk renders each with a hostile
title and checks nothing of it can make a link, bold text, a heading or a ping."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from html import escape as html_escape

import pytest

from bot.commands.core import CommandCore
from bot.net.fetch import Fetcher
from bot.net.guard import allow_any
from bot.render.discord_embeds import render_discord_reply, render_discord_text
from bot.roles.feed_health import FeedHealthNotices
from bot.settings import Settings
from bot.store.connection import RedisHandle
from bot.store.watchlist import Watchlist
from tests.articles import rss
from tests.bot.commands.test_core import ADMIN, site_page
from tests.fakes.feed_server import FeedServer

HOSTILE = "[bbc.co.uk/news](https://evil.example/login) **URGENT** @everyone\n# Heading"


@pytest.fixture
async def core(settings: Settings, handle: RedisHandle) -> AsyncIterator[CommandCore]:
    async with Fetcher(policy=allow_any) as fetcher:
        yield CommandCore(
            client=handle.client, keys=handle.keys, settings=settings, fetcher=fetcher
        )


def obeyed(content: str) -> list[str]:
    """What in a message body Discord would render as Markdown or a mention."""
    found = []
    if re.search(r"(?<!\\)\]\(", content):
        found.append("a masked link")
    if re.search(r"(?<!\\)\*\*", content):
        found.append("bold")
    if re.search(r"(?m)^#", content):
        found.append("a heading")
    if re.search(r"@everyone", content):
        found.append("a ping")
    return found


async def test_every_reply_and_notice_shows_a_hostile_title_as_typed(
    core: CommandCore, handle: RedisHandle, feed_server: FeedServer
) -> None:
    item = {"title": "Story", "link": "https://n.example/1", "guid": "1"}
    url = feed_server.add("/hostile.xml", rss(HOSTILE, [item]))
    page = feed_server.add(
        "/page",
        site_page((html_escape(HOSTILE), "/hostile.xml"), ("Other", "/o.xml")),
        content_type="text/html",
    )
    bodies = {}
    bodies["subscribe"] = render_discord_reply(await core.handle(ADMIN, f"subscribe {url}"))
    bodies["feeds"] = render_discord_reply(await core.handle(ADMIN, "feeds"))
    bodies["a page's feeds"] = render_discord_reply(await core.handle(ADMIN, f"subscribe {page}"))
    text = "<p>The harbour bridge reopened today after repairs.</p>" * 5
    article_page = feed_server.add(
        "/article",
        f"<html><head><title>{html_escape(HOSTILE)}</title></head><body>{text}</body></html>",
        content_type="text/html",
    )
    bodies["summarize"] = render_discord_reply(
        await core.handle(ADMIN, f"summarize {article_page}")
    )
    [record] = await Watchlist(handle.client, handle.keys).all()
    assert "URGENT" in record.title, "the title was stored as the feed gave it"
    notices = FeedHealthNotices(handle.client, handle.keys, after=0)
    await notices.failing(record, failing_since=0, now=90000, error=HOSTILE)
    record.failing_since, record.down_notice = 1.0, 2.0
    await notices.recovered(record, now=90000)
    queued = await handle.client.xrange(handle.keys.outbox("slack"))
    for _id, fields in queued:
        bodies[fields["delivery"]] = render_discord_text(fields["text"])
    assert len(bodies) == 6
    for name, body in bodies.items():
        content = body["content"]
        assert "URGENT" in content or name == "summarize", f"{name}: the title is shown"
        assert obeyed(content) == [], f"{name}: {content!r}"
