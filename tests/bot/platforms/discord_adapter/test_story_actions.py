"""Actions on posted stories over Discord: buttons under an instant post, a "Pick a
story…" select under a digest message, and their clicks (component interactions through
the gateway), each deferred before its slow work, claimed once, answered ephemerally."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from bot.settings import Settings
from bot.store.connection import RedisHandle
from tests.articles import rss
from tests.bot.platforms.discord_adapter.conftest import discord_settings, running
from tests.bot.platforms.discord_adapter.test_commands import ask, connected
from tests.fakes.discord_api import CHANNEL, EVERYONE_PERMISSIONS, GUILD, MEMBER, FakeDiscord
from tests.fakes.feed_server import FeedServer

DEFERRED, EPHEMERAL = 5, 64


def wire(page: str, count: int) -> str:
    return rss(
        "Wire",
        [
            {
                "title": f"Harbour bridge story {n}",
                "link": page if n == 1 else f"https://wire.example/{n}",
                "guid": str(n),
                "description": f"The harbour bridge reopened today, report number {n}.",
            }
            for n in range(1, count + 1)
        ],
    )


async def click(fake: FakeDiscord, custom_id: str, **how: Any) -> dict[str, Any]:
    """Press a component; its follow-up, after a deferred ephemeral first answer."""
    _, token = await fake.press(custom_id, **how)
    first, final = await fake.answered(token, 2)
    assert first["type"] == DEFERRED and first["data"]["flags"] & EPHEMERAL, first
    assert final["flags"] & EPHEMERAL, "answers go to the member who clicked"
    return dict(final)


def components(post: dict[str, Any]) -> list[dict[str, Any]]:
    return [part for row in post.get("components") or [] for part in row["components"]]


async def test_buttons_under_an_instant_post_answer_each_action_once(
    settings: Settings,
    tmp_path: Path,
    discord_api: FakeDiscord,
    feed_server: FeedServer,
    handle: RedisHandle,
) -> None:
    page = feed_server.add(
        "/bridge.html",
        "<html><body><article><p>The harbour bridge reopened on Monday. Engineers replaced "
        "every cable. Ferries expect fewer passengers.</p></article></body></html>",
        content_type="text/html",
        delay=2.0,
    )
    url = feed_server.add("/wire.xml", wire(page, 1))
    async with running(discord_settings(settings, tmp_path, discord_api)):
        await connected(discord_api)
        await ask(discord_api, "news subscribe", {"url": url, "mode": "instant"})
        [post] = await discord_api.wait_posts(1, CHANNEL)
        buttons = components(post)
        assert [b["label"] for b in buttons] == ["Summary", "Coverage", "👍", "👎", "Mute story"]
        ids = {b["label"]: b["custom_id"] for b in buttons}
        assert all(len(i) <= 100 for i in ids.values())

        _, token = await discord_api.press(ids["Summary"], user=MEMBER)
        [deferred] = await discord_api.answered(token)
        assert deferred["type"] == DEFERRED, "deferred before the 2 s page read"
        summary = (await discord_api.answered(token, 2))[1]
        assert "Engineers replaced every cable" in summary["content"]

        coverage = await click(discord_api, ids["Coverage"], user=MEMBER)
        assert coverage["content"].startswith("Coverage of") and "Wire" in coverage["content"]
        member = EVERYONE_PERMISSIONS
        refused = await click(discord_api, ids["Mute story"], user=MEMBER, permissions=member)
        assert "managers only" in refused["content"]
        up = await click(discord_api, ids["👍"], user=MEMBER, permissions=member)
        assert "noted" in up["content"]
        down = await click(discord_api, ids["👎"], user=MEMBER, permissions=member)
        assert "already gave feedback" in down["content"]
        muted = await click(discord_api, ids["Mute story"])
        assert muted["content"].startswith("Muted")

        # The gateway delivers the same click again (a resume replays it): answered once.
        interaction, token = await discord_api.press(ids["Coverage"])
        await discord_api.answered(token, 2)
        await discord_api.redeliver(interaction)
        await asyncio.sleep(0.5)
        assert len(discord_api.followups[token]) == 1
    marks = await handle.client.hget(
        handle.keys.channel_feedback(f"discord:{GUILD}:{CHANNEL}"), "#marks"
    )
    assert int(marks) == 1


async def test_a_digest_message_has_a_story_select_that_answers_with_the_storys_buttons(
    settings: Settings, tmp_path: Path, discord_api: FakeDiscord, feed_server: FeedServer
) -> None:
    url = feed_server.add("/wire.xml", wire("https://wire.example/1", 4))
    async with running(discord_settings(settings, tmp_path, discord_api)):
        await connected(discord_api)
        await ask(discord_api, "news subscribe", {"url": url})
        await asyncio.sleep(1.0)  # the first fetch reaches the pending digest
        await ask(discord_api, "news digest")
        [digest] = await discord_api.wait_posts(1, CHANNEL)
        [select] = components(digest)
        assert select["type"] == 3 and select["placeholder"] == "Pick a story…"
        assert len(select["options"]) == len(digest["embeds"]) == 4
        titles = {o["value"]: o["label"] for o in select["options"]}
        story, title = next(iter(titles.items()))

        picked = await click(discord_api, select["custom_id"], values=[story])
        assert picked["embeds"][0]["title"].replace("\\", "") == title
        buttons = components(picked)
        assert [b["label"] for b in buttons][:2] == ["Summary", "Coverage"]
        coverage = await click(discord_api, buttons[1]["custom_id"])
        assert title in coverage["content"]

        forged = await click(discord_api, select["custom_id"], values=["not-a-story"])
        assert "no longer stored" in forged["content"] and not components(forged)


async def test_the_news_signal_subcommands_read_the_same_grammar(
    settings: Settings, tmp_path: Path, discord_api: FakeDiscord, feed_server: FeedServer
) -> None:
    url = feed_server.add("/wire.xml", wire("https://wire.example/1", 2))
    async with running(discord_settings(settings, tmp_path, discord_api)):
        await connected(discord_api)
        await ask(discord_api, "news subscribe", {"url": url})
        on = await ask(discord_api, "news breaking", {"state": "on", "minutes": 30})
        assert "4 outlets within 30 minutes" in on, on
        member = EVERYONE_PERMISSIONS
        refused = await ask(discord_api, "news rank", {"order": "time"}, permissions=member)
        assert "only channel managers" in refused
        assert "time, newest first" in await ask(discord_api, "news rank", {"order": "time"})
        styled = await ask(
            discord_api, "news style", {"style": "template", "template": "{title} via {source}"}
        )
        assert "template" in styled, styled
        assert "unknown placeholder {x}" in await ask(
            discord_api, "news style", {"style": "template", "template": "{x}"}
        )
        assert "gained" in await ask(discord_api, "news trending", {"hours": 3})
