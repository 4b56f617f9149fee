"""Issue #21, end to end on the fake Discord: a channel where newsbot may not post is
held, its stories kept, and every one arrives once when a CHANNEL_UPDATE says its
permissions changed."""

from __future__ import annotations

import asyncio
from pathlib import Path

from tests.bot.platforms.discord_adapter.test_end_to_end import run_with
from tests.bot.platforms.slack_adapter.test_end_to_end import feed, stop, until, with_new_story
from tests.fakes.discord_api import CHANNEL, SEND_MESSAGES, FakeDiscord
from tests.fakes.feed_server import FeedServer


async def test_a_channel_refused_then_granted_gets_every_held_story_once(
    tmp_path: Path, redis_url: str, discord_api: FakeDiscord, feed_server: FeedServer
) -> None:
    discord_api.denied[CHANNEL] = SEND_MESSAGES
    url = feed_server.add("/wire.xml", feed())
    process = await run_with(tmp_path, redis_url, discord_api, url)
    try:
        await discord_api.wait_connected()
        await until(
            lambda: ("POST", f"/channels/{CHANNEL}/messages") in discord_api.requests, timeout=30
        )
        feed_server.add("/wire.xml", with_new_story("Harbour ferry returns to service"))
        await asyncio.sleep(3)  # polled and routed while the channel refuses: held
        assert discord_api.posts(CHANNEL) == []
        del discord_api.denied[CHANNEL]
        await discord_api.update_channel(CHANNEL)
        await until(lambda: len(discord_api.posts(CHANNEL)) >= 4, timeout=30)
        await asyncio.sleep(1.5)
    finally:
        await stop(process)
    titles = [p["embeds"][0]["title"] for p in discord_api.posts(CHANNEL)]
    assert len(titles) == 4, "each held story once"
    assert "Story 3" in titles[0] and "Harbour ferry" in titles[-1], "in order, oldest first"
    assert discord_api.problems == []
