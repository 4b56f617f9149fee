"""`/news` on Discord: the real discord.py client, connected to the fake gateway, answers
injected INTERACTION_CREATE events through the callback and follow-ups."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

from bot.settings import Settings
from bot.store.connection import RedisHandle
from tests.articles import rss
from tests.bot.platforms.discord_adapter.conftest import discord_settings, running
from tests.conftest import PrivateRedis
from tests.fakes.discord_api import (
    CHANNEL,
    EMBED_LINKS,
    EVERYONE_PERMISSIONS,
    GUILD,
    MANAGE_CHANNELS,
    MEMBER,
    SEND_MESSAGES,
    VIEW_CHANNEL,
    ChannelOption,
    FakeDiscord,
)
from tests.fakes.feed_server import FeedServer

DEFERRED = 5
MESSAGE = 4
AUTOCOMPLETE_RESULT = 8
EPHEMERAL = 64


def wire() -> str:
    return rss(
        "Wire",
        [
            {
                "title": f"Harbour bridge reopens, part {n}",
                "link": f"https://wire.example/{n}",
                "guid": str(n),
                "description": f"The harbour bridge reopened today after repairs, part {n}.",
            }
            for n in range(1, 4)
        ],
    )


async def ask(
    fake: FakeDiscord, path: str, options: dict[str, Any] | None = None, **how: Any
) -> str:
    """Send one interaction; the text of its final answer (asserted ephemeral)."""
    _, token = await fake.interact(path, options, **how)
    first = await fake.answered(token)
    if first[0]["type"] == DEFERRED:
        assert first[0]["data"]["flags"] & EPHEMERAL
        answers = await fake.answered(token, 2)
        final = answers[1]
    else:
        assert first[0]["type"] == MESSAGE
        final = first[0]["data"]
    assert final["flags"] & EPHEMERAL, "replies go to the asker only"
    return str(final["content"])


async def connected(fake: FakeDiscord) -> None:
    await fake.wait_connected()
    for _ in range(200):
        if fake.command_ids():
            return
        await asyncio.sleep(0.05)
    raise AssertionError("/news was never synced")


async def test_every_subcommand_is_answered_through_the_core(
    settings: Settings, tmp_path: Path, discord_api: FakeDiscord, feed_server: FeedServer
) -> None:
    url = feed_server.add("/wire.xml", wire())
    article = feed_server.add(
        "/article.html",
        "<html><head><title>Bridge</title></head><body><article><p>"
        + "The harbour bridge reopened on Monday after two years of repairs. " * 5
        + "</p></article></body></html>",
        content_type="text/html",
    )
    async with running(discord_settings(settings, tmp_path, discord_api)):
        await connected(discord_api)
        assert discord_api.syncs == [str(GUILD)], "guild-scoped sync from the settings"
        assert "/news subscribe" in await ask(discord_api, "news help")
        subscribed = await ask(discord_api, "news subscribe", {"url": url, "mode": "instant"})
        assert "Subscribed this channel to f1" in subscribed
        assert "instant mode" in subscribed
        feeds = await ask(discord_api, "news feeds")
        assert "f1" in feeds and url in feeds
        for _ in range(100):
            if "newest stories" in await ask(discord_api, "news latest", {"count": 2}):
                break
            await asyncio.sleep(0.1)
        else:
            raise AssertionError("latest never showed the stories")
        latest_answer = discord_api.followups[list(discord_api.followups)[-1]][-1]
        assert len(latest_answer["embeds"]) == 2, "stories come as embeds"
        assert "Harbour" in latest_answer["embeds"][0]["title"]
        assert "Stories matching" in await ask(discord_api, "news search", {"query": "harbour"})
        scheduled = await ask(
            discord_api, "news schedule", {"when": "daily 08:30", "timezone": "Europe/Berlin"}
        )
        assert "daily 08:30" in scheduled
        digest = await ask(discord_api, "news digest")
        assert "digest" in digest.lower()
        summary = await ask(discord_api, "news summarize", {"url": article})
        assert "harbour bridge reopened" in summary.lower()
        assert "Alert a1 added" in await ask(discord_api, "news alert add", {"query": "harbour"})
        assert "a1: 'harbour' by DM" in await ask(discord_api, "news alert list")
        assert "paused until" in await ask(discord_api, "news alert pause", {"duration": "2h"})
        assert "on again" in await ask(discord_api, "news alert resume")
        assert "Removed alert a1" in await ask(discord_api, "news alert remove", {"id": "a1"})
        tested = await ask(discord_api, "news filter", {"feed": "f1", "query": 'test "part 2"'})
        assert "passes 1 and blocks 2" in tested, tested
        assert "instant mode" in await ask(
            discord_api, "news mode", {"feed": "f1", "mode": "instant"}
        )
        assert "only stories matching 'harbour'" in await ask(
            discord_api, "news filter", {"feed": "f1", "query": "harbour"}
        )
        assert "says: All quiet." in await ask(discord_api, "news quiet", {"message": "All quiet."})
        # The instant subscription's stories went to the channel, through REST (before the
        # unsubscribe: a post still queued then shows nothing the channel may see).
        posted = await discord_api.wait_posts(3, CHANNEL)
        assert all(p["allowed_mentions"] == {"parse": []} for p in posted)
        assert "Unsubscribed" in await ask(discord_api, "news unsubscribe", {"feed": "f1"})


async def test_a_channel_alert_needs_manage_channels_in_the_channel_it_posts_to(
    settings: Settings, tmp_path: Path, discord_api: FakeDiscord
) -> None:
    """Manage Channels where the command runs is not enough to make the bot post into a
    channel where the member cannot manage anything (a read-only #announcements)."""
    announcements = 810000000000000009
    discord_api.channels[announcements] = GUILD
    async with running(discord_settings(settings, tmp_path, discord_api)):
        await connected(discord_api)
        there = ChannelOption(announcements, EVERYONE_PERMISSIONS)
        refused = await ask(discord_api, "news alert add", {"query": "harbour", "channel": there})
        assert "only that channel's managers" in refused, refused
        allowed = ChannelOption(announcements, EVERYONE_PERMISSIONS | MANAGE_CHANNELS)
        added = await ask(discord_api, "news alert add", {"query": "harbour", "channel": allowed})
        assert "Alert a1 added" in added and str(announcements) in added, added


async def test_a_channel_typed_into_the_query_is_never_an_alerts_target(
    settings: Settings, tmp_path: Path, discord_api: FakeDiscord, handle: RedisHandle
) -> None:
    """Issue #22: `acme in <#…>` in the query option, picker empty, made a channel alert
    posting to a channel of another server. Only the channel option names a target."""
    async with running(discord_settings(settings, tmp_path, discord_api)):
        await connected(discord_api)
        query = "acme in <#999000000000000001>"
        refused = await ask(discord_api, "news alert add", {"query": query})
        assert "a query cannot name a channel" in refused, refused
    assert await handle.client.hlen(handle.keys.alerts) == 0


async def test_unsubscribe_autocompletes_the_channels_feeds(
    settings: Settings, tmp_path: Path, discord_api: FakeDiscord, feed_server: FeedServer
) -> None:
    url = feed_server.add("/wire.xml", wire())
    async with running(discord_settings(settings, tmp_path, discord_api)):
        await connected(discord_api)
        await ask(discord_api, "news subscribe", {"url": url})
        _, token = await discord_api.interact("news unsubscribe", {"feed": "wir"}, focused="feed")
        (answer,) = await discord_api.answered(token)
        assert answer["type"] == AUTOCOMPLETE_RESULT
        choices = answer["data"]["choices"]
        assert [c["value"] for c in choices] == ["f1"]
        assert "Wire" in choices[0]["name"]
        _, token = await discord_api.interact(
            "news unsubscribe", {"feed": "nothing-like-it"}, focused="feed"
        )
        (answer,) = await discord_api.answered(token)
        assert answer["data"]["choices"] == []


async def test_a_member_without_manage_channels_cannot_subscribe_but_can_search(
    settings: Settings, tmp_path: Path, discord_api: FakeDiscord, feed_server: FeedServer
) -> None:
    url = feed_server.add("/wire.xml", wire())
    async with running(discord_settings(settings, tmp_path, discord_api)) as bot:
        await connected(discord_api)
        refused = await ask(
            discord_api,
            "news subscribe",
            {"url": url},
            user=MEMBER,
            permissions=EVERYONE_PERMISSIONS,
        )
        assert "only channel managers" in refused
        assert "Usage: /news subscribe" in refused, "the refusal and the usage line"
        for path, options in (
            ("news mode", {"feed": "f1", "mode": "instant"}),
            ("news filter", {"feed": "f1", "query": "harbour"}),
            ("news quiet", {"message": "hi"}),
        ):
            answer = await ask(
                discord_api, path, options, user=MEMBER, permissions=EVERYONE_PERMISSIONS
            )
            assert "only channel managers" in answer, path
        subs = await bot.handle.client.hlen(
            bot.handle.keys.channel_subs(f"discord:{GUILD}:{CHANNEL}")
        )
        assert subs == 0
        searched = await ask(
            discord_api,
            "news search",
            {"query": "harbour"},
            user=MEMBER,
            permissions=EVERYONE_PERMISSIONS,
        )
        assert "match" in searched, "search is for everyone"
    synced = discord_api.commands[str(GUILD)][0]
    assert synced.get("default_member_permissions") is None


async def test_commands_in_a_dm_say_they_need_a_channel(
    settings: Settings, tmp_path: Path, discord_api: FakeDiscord
) -> None:
    async with running(discord_settings(settings, tmp_path, discord_api)):
        await connected(discord_api)
        answer = await ask(discord_api, "news feeds", guild=None, channel=961234)
        assert "works in a server channel" in answer
        assert "/news subscribe" in await ask(discord_api, "news help", guild=None, channel=961234)


async def test_a_channel_missing_a_permission_gets_the_advice_in_the_reply(
    settings: Settings, tmp_path: Path, discord_api: FakeDiscord, feed_server: FeedServer
) -> None:
    url = feed_server.add("/wire.xml", wire())
    async with running(discord_settings(settings, tmp_path, discord_api)):
        await connected(discord_api)
        answer = await ask(
            discord_api,
            "news subscribe",
            {"url": url},
            app_permissions=VIEW_CHANNEL | SEND_MESSAGES,
        )
        assert "Subscribed" in answer
        assert "needs the Embed Links permission" in answer
        fine = await ask(
            discord_api, "news feeds", app_permissions=VIEW_CHANNEL | SEND_MESSAGES | EMBED_LINKS
        )
        assert "permission" not in fine


async def test_an_interaction_delivered_twice_is_answered_once(
    settings: Settings, tmp_path: Path, discord_api: FakeDiscord
) -> None:
    async with running(discord_settings(settings, tmp_path, discord_api)):
        await connected(discord_api)
        interaction, token = await discord_api.interact("news help")
        await discord_api.answered(token)
        await discord_api.redeliver(interaction)
        await asyncio.sleep(0.5)
        assert len(discord_api.followups[token]) == 0
        assert discord_api.problems == [], "no second answer"


async def test_commands_are_synced_only_when_they_change(
    settings: Settings, tmp_path: Path, discord_api: FakeDiscord
) -> None:
    configured = discord_settings(settings, tmp_path, discord_api)
    async with running(configured):
        await connected(discord_api)
    async with running(configured):
        await discord_api.wait_connected()
        await asyncio.sleep(0.3)
    assert discord_api.syncs == [str(GUILD)], "the same tree is not synced twice"
    global_sync = discord_settings(settings, tmp_path, discord_api, NEWSBOT_DISCORD_GUILD_IDS="")
    async with running(global_sync):
        for _ in range(200):
            if len(discord_api.syncs) == 2:
                break
            await asyncio.sleep(0.05)
    assert discord_api.syncs == [str(GUILD), "global"]


async def test_a_slow_redis_does_not_cost_the_three_seconds_to_defer(
    settings: Settings, tmp_path: Path, discord_api: FakeDiscord, redis_server: PrivateRedis
) -> None:
    """Redis stalls for 4 s while an interaction comes in: the claim gives up after half a
    second and the interaction is deferred in time; the answer follows once Redis is back."""
    async with running(discord_settings(settings, tmp_path, discord_api)):
        await connected(discord_api)
        stall = asyncio.create_task(
            asyncio.to_thread(redis_server.client().execute_command, "DEBUG", "SLEEP", "4")
        )
        await asyncio.sleep(0.2)  # the stall has begun
        started = time.monotonic()
        _, token = await discord_api.interact("news feeds")
        [first] = await discord_api.answered(token)
        deferred_after = time.monotonic() - started
        await stall
        answers = await discord_api.answered(token, 2)
    assert first["type"] == DEFERRED and deferred_after < 2.0, deferred_after
    assert "no feeds yet" in answers[1]["content"]
