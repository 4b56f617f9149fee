"""`/news` over Socket Mode: slack_sdk's real client on a fake Slack websocket (the URL comes
from apps.connections.open on the fake Web API); each envelope acked, then answered."""

from __future__ import annotations

import asyncio
from pathlib import Path

from bot.app import RunningBot, run_bot
from bot.net.guard import allow_any
from bot.settings import Settings
from tests.articles import rss
from tests.bot.platforms.slack_adapter.conftest import SECRET, wait_for_responses
from tests.bot.test_app import free_port
from tests.conftest import make_settings
from tests.fakes.feed_server import FeedServer
from tests.fakes.slack_api import FakeSlack


async def test_commands_over_socket_mode_are_acked_at_once_and_answered(
    settings: Settings, tmp_path: Path, slack: FakeSlack, feed_server: FeedServer
) -> None:
    url = feed_server.add(
        "/slow.xml",
        rss("Slow", [{"title": "Harbour reopens", "link": "https://n.example/1", "guid": "1"}]),
        delay=4,
    )
    configured = make_settings(
        tmp_path,
        NEWSBOT_REDIS_URL=settings.redis_url.reveal() if settings.redis_url else "",
        NEWSBOT_HTTP_PORT=str(free_port()),
        SLACK_BOT_TOKEN="xoxb-test",
        SLACK_APP_TOKEN="xapp-test",
        SLACK_SIGNING_SECRET=SECRET,  # both set: Socket Mode wins
        NEWSBOT_SLACK_API_URL=slack.api_url,
    )
    stop = asyncio.Event()

    async def exercise(_bot: RunningBot) -> None:
        try:
            for _ in range(200):
                if slack.sockets:
                    break
                await asyncio.sleep(0.05)
            helped = await slack.send_command("help", name="help")
            subscribed = await slack.send_command(f"subscribe <{url}>", name="sub")
            await wait_for_responses(slack, 2)
            for envelope in (helped, subscribed):
                acked_at, _payload = slack.acks[envelope]
                assert acked_at - slack.sent[envelope] < 3.0, "acked within Slack's 3 s"
            assert "Subscribing" in str(slack.acks[subscribed][1])
        finally:
            stop.set()

    await asyncio.wait_for(
        run_bot(configured, stop=stop, on_started=exercise, policy=allow_any), timeout=60
    )
    texts = [r["text"] for r in slack.responses]
    assert any("/news subscribe" in t for t in texts), "help answered"
    assert any("Harbour" in t or "1 stor" in t for t in texts), texts
    assert not [c for c in slack.calls if c.method == "auth.test" and c.token != "xoxb-test"]
