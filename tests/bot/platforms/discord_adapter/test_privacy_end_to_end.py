"""Privacy between channels the whole way on Discord: `newsbot run` as a process, a private
channel (@everyone may not view it) following an internal feed and a public one following
a news feed, with stories shared by address, by syndication, and one the news feed had
first that the internal feed brings later."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

from tests.bot.platforms.discord_adapter.test_commands import DEFERRED, connected
from tests.bot.platforms.discord_adapter.test_end_to_end import running_env
from tests.bot.platforms.slack_adapter.test_end_to_end import run_newsbot, stop, until
from tests.fakes.discord_api import ADMIN, BOT_ID, CHANNEL, GUILD, VIEW_CHANNEL, FakeDiscord
from tests.fakes.feed_server import FeedServer
from tests.privacy_feeds import NEWS_TITLES, internal_feed, leaks, news_feed

PRIVATE = 810000000000000003


async def command(fake: FakeDiscord, path: str, options: dict[str, Any], channel: int) -> str:
    """One `/news` interaction in `channel`; its final answer (content and embeds) as JSON."""
    _, token = await fake.interact(path, options, channel=channel)
    first = await fake.answered(token)
    final = (await fake.answered(token, 2))[1] if first[0]["type"] == DEFERRED else first[0]
    return json.dumps(final)


async def test_a_private_channels_feed_never_reaches_the_public_channel(
    tmp_path: Path, redis_url: str, discord_api: FakeDiscord, feed_server: FeedServer
) -> None:
    discord_api.channels[PRIVATE] = GUILD
    discord_api.denied[PRIVATE] = VIEW_CHANNEL
    discord_api.viewers[PRIVATE] = {BOT_ID, ADMIN}
    internal = feed_server.add("/internal.xml?token=s3cret", internal_feed())
    news = feed_server.add("/news.xml", news_feed())
    process = await run_newsbot(tmp_path, running_env(tmp_path, redis_url, discord_api))
    try:
        await connected(discord_api)
        subscribe = "news subscribe"
        answer = await command(
            discord_api, subscribe, {"url": internal, "mode": "instant"}, PRIVATE
        )
        assert "found 2 stories" in answer, answer
        await until(lambda: len(discord_api.posts(PRIVATE)) >= 2, timeout=30)
        answer = await command(discord_api, subscribe, {"url": news, "mode": "instant"}, CHANNEL)
        assert "found 3 stories" in answer, answer
        await until(lambda: len(discord_api.posts(CHANNEL)) >= 3, timeout=30)
        feed_server.add("/internal.xml?token=s3cret", internal_feed(later=True))
        await until(lambda: len(discord_api.posts(PRIVATE)) >= 3, timeout=30)
        await asyncio.sleep(1.5)  # time for anything that should not come
        public_search = await command(discord_api, "news search", {"query": "contract"}, CHANNEL)
        public_latest = await command(discord_api, "news latest", {"count": 10}, CHANNEL)
    finally:
        await stop(process)
    public = [json.dumps(p) for p in discord_api.posts(CHANNEL)]
    assert len(public) == 3, "every public story once, and no more when the private copy came"
    for title in NEWS_TITLES:
        assert any(title in post for post in public), title
    assert leaks("\n".join(public)) == []
    assert "No stories this channel may see match" in public_search
    assert leaks(public_latest) == [] and "Harbour bridge reopens" in public_latest
    titles = [e["title"].replace("\\", "") for p in discord_api.posts(PRIVATE) for e in p["embeds"]]
    assert "Zebra-42: our bridge contract plan" in titles  # Markdown-escaped on Discord
    assert "Wheat deal: zebra44 contract pricing" in titles, "its own copy, when it came"
    assert discord_api.problems == []
