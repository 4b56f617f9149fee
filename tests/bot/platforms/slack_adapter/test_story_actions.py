"""Actions on posted stories over Slack: the overflow menu on each story a post carries,
picked in HTTP mode (a signed form body) and in Socket Mode (an envelope); each pick is
acknowledged before its slow work, claimed once, and answered to the member alone."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

from bot.app import RunningBot, run_bot
from bot.net.guard import allow_any
from bot.settings import Settings
from tests.articles import rss
from tests.bot.platforms.slack_adapter.conftest import (
    action_form,
    post,
    signed,
    slash,
    socket_mode_settings,
    socket_opened,
    wait_for_responses,
)
from tests.bot.platforms.slack_adapter.test_http_mode import with_bot
from tests.fakes.feed_server import FeedServer
from tests.fakes.slack_api import FakeSlack

ARTICLE = (
    "<html><head><title>Harbour</title></head><body><article>"
    + "".join(
        f"<p>{s}</p>"
        for s in [
            "The harbour bridge reopened on Monday after two years of repairs.",
            "Engineers replaced every cable and repainted the towers in the original grey.",
            "Ferry operators expect fewer passengers now that the road is open again.",
            "The city council approved a toll holiday for the first month of traffic.",
            "Cyclists gained a protected lane along the eastern side of the deck.",
            "Residents gathered at dawn to walk across before the cars arrived.",
            "The repairs cost forty million euros, slightly under the final budget.",
        ]
    )
    + "</article></body></html>"
)


def harbour_feed(feed_server: FeedServer, *, delay: float = 0.0) -> str:
    page = feed_server.add("/harbour.html", ARTICLE, content_type="text/html", delay=delay)
    return feed_server.add(
        "/harbour.xml",
        rss(
            "Harbour News",
            [{"title": "Harbour bridge reopens", "link": page, "guid": "1", "description": "x"}],
        ),
    )


async def story_menu(slack: FakeSlack, channel: str = "C1") -> dict[str, str]:
    """The overflow options of the first story posted in the channel: value by label."""
    for _ in range(400):
        for params in slack.accepted_posts(channel):
            for block in _blocks(params):
                menu = block.get("accessory") or {}
                if menu.get("type") == "overflow":
                    return {o["text"]["text"]: o["value"] for o in menu["options"]}
        await asyncio.sleep(0.05)
    raise AssertionError("no story with an actions menu was posted")


def _blocks(params: dict[str, Any]) -> list[dict[str, Any]]:
    blocks = params.get("blocks") or []
    return list(json.loads(blocks) if isinstance(blocks, str) else blocks)


async def test_http_mode_actions_are_acked_first_and_answered_to_the_member_once(
    settings: Settings, tmp_path: Path, slack: FakeSlack, feed_server: FeedServer
) -> None:
    url = harbour_feed(feed_server, delay=2.0)  # reading the page for a summary takes 2 s

    async def exercise(_bot: RunningBot, events: str) -> None:
        body = slash(f"subscribe <{url}> instant", slack, name="sub")
        assert (await post(events, body, signed(body)))[0] == 200
        menu = await story_menu(slack)
        assert list(menu) == ["Summary", "Coverage", "👍", "👎", "Mute story"]

        async def pick(label: str, user: str, name: str, trigger: str | None = None) -> int:
            form = action_form(
                slack.block_actions(menu[label], user=user, name=name, trigger=trigger)
            )
            return (await post(events, form, signed(form)))[0]

        asked = time.monotonic()
        assert await pick("Summary", "UMEMBER", "summary") == 200
        acked = time.monotonic() - asked
        assert acked < 1.5, f"the ack waited {acked:.1f} s for the page"
        assert not [r for r in slack.responses if "Engineers" in r.get("text", "")]
        for label, user, name in [
            ("Coverage", "UMEMBER", "coverage"),
            ("Mute story", "UMEMBER", "mute-member"),
            ("👍", "UMEMBER", "up"),
            ("👎", "UMEMBER", "down"),
            ("Mute story", "UADMIN", "mute-admin"),
        ]:
            assert await pick(label, user, name) == 200
        # Slack sends the same pick again (a retry: same trigger id, a new signature).
        assert await pick("👍", "UOTHER", "up-other", trigger="9.9") == 200
        await asyncio.sleep(1.1)
        assert await pick("👍", "UOTHER", "up-other-again", trigger="9.9") == 200
        nowhere = slack.block_actions(menu["Coverage"], name="nowhere")
        del nowhere["channel"]  # a pick from somewhere that is no channel
        form = action_form(nowhere)
        assert (await post(events, form, signed(form)))[0] == 200
        await wait_for_responses(slack, 9)  # subscribe and 8 distinct picks
        await asyncio.sleep(0.5)
        assert len(slack.responses) == 9, "the retried pick was not answered again"

    await with_bot(settings, tmp_path, slack, exercise)
    for response in slack.responses:
        assert response["response_type"] == "ephemeral" and response["replace_original"] is False
    texts = [r["text"] for r in slack.responses]
    answers = {key: next((t for t in texts if key in t), "") for key in ["Coverage of", "managers"]}
    assert "Harbour News" in answers["Coverage of"]
    assert "managers only" in answers["managers"]
    assert sum("noted for this channel" in t for t in texts) == 2, "UMEMBER once, UOTHER once"
    assert sum("already gave feedback" in t for t in texts) == 1
    assert sum(t.startswith("Muted") for t in texts) == 1
    assert sum("work in the channel the story was posted in" in t for t in texts) == 1
    summary = next(t for t in texts if "Engineers replaced every cable" in t)
    assert summary.startswith("Harbour bridge reopens")


async def test_socket_mode_actions_are_acked_at_once_and_answered(
    settings: Settings, tmp_path: Path, slack: FakeSlack, feed_server: FeedServer
) -> None:
    url = harbour_feed(feed_server, delay=2.0)
    configured = socket_mode_settings(settings, tmp_path, slack, NEWSBOT_POLL_INTERVAL="0.2")
    stop = asyncio.Event()

    async def exercise(_bot: RunningBot) -> None:
        try:
            await socket_opened(slack)
            await slack.send_command(f"subscribe <{url}> instant", name="sub")
            menu = await story_menu(slack)
            summary = await slack.send_action(
                slack.block_actions(menu["Summary"], user="UMEMBER", name="summary")
            )
            coverage = await slack.send_action(
                slack.block_actions(menu["Coverage"], user="UMEMBER", name="coverage")
            )
            await wait_for_responses(slack, 3)
            for envelope in (summary, coverage):
                acked_at, _payload = slack.acks[envelope]
                assert acked_at - slack.sent[envelope] < 1.5, "acked before the slow work"
        finally:
            stop.set()

    await asyncio.wait_for(
        run_bot(configured, stop=stop, on_started=exercise, policy=allow_any), timeout=60
    )
    texts = [r["text"] for r in slack.responses]
    assert any(t.startswith("Coverage of") for t in texts), texts
    assert any("Engineers replaced every cable" in t for t in texts), texts
