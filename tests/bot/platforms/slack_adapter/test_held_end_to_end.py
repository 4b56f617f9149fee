"""Issue #21, end to end on the fake Slack: a channel that refuses (subscribed, then
invited, the order Slack's own reply suggests), then accepts. Its stories are held, not
lost, and every one arrives once when Slack says the bot joined, in Socket Mode and in
HTTP mode."""

from __future__ import annotations

import asyncio
import json
import re
from pathlib import Path

from tests.bot.cli.test_cli import cli_env
from tests.bot.platforms.slack_adapter.conftest import SECRET, post, signed
from tests.bot.platforms.slack_adapter.test_end_to_end import (
    feed,
    run_newsbot,
    socket_mode_env,
    stop,
    until,
    with_new_story,
)
from tests.bot.test_app import free_port
from tests.fakes.feed_server import FeedServer
from tests.fakes.slack_api import FakeSlack

JOINED = {"type": "member_joined_channel", "channel": "C9", "channel_type": "C", "team": "T1"}
MANIFEST = Path(__file__).parents[4] / "slack" / "manifest.yml"


def subscribed_c9(tmp_path: Path, url: str) -> str:
    path = tmp_path / "newsbot.toml"
    path.write_text(
        f'[[channels]]\nid = "slack:T1:C9"\n[[channels.feeds]]\nurl = "{url}"\nmode = "instant"\n'
    )
    return str(path)


async def test_socket_mode_holds_a_refusing_channel_and_releases_it_when_the_bot_joins(
    tmp_path: Path, slack: FakeSlack, feed_server: FeedServer, redis_url: str
) -> None:
    url = feed_server.add("/wire.xml", feed())
    slack.channel_errors["C9"] = "not_in_channel"
    env = socket_mode_env(tmp_path, slack, redis_url, NEWSBOT_CONFIG=subscribed_c9(tmp_path, url))
    process = await run_newsbot(tmp_path, env)
    try:
        await until(lambda: bool(slack.sockets) and len(slack.posts("C9")) >= 1, timeout=30)
        # A new story while the channel refuses: held too, not dropped.
        feed_server.add("/wire.xml", with_new_story("Harbour ferry returns to service"))
        await _settle()
        await _settle()
        before = len(slack.posts("C9"))
        await slack.send_event({**JOINED, "user": "USOMEONE"})  # not the bot: nothing
        await _settle()
        assert len(slack.posts("C9")) == before
        del slack.channel_errors["C9"]
        await slack.send_event({**JOINED, "user": "UBOT"})
        await until(lambda: len(slack.accepted_posts("C9")) >= 4, timeout=30)
        await _settle()
    finally:
        await stop(process)
    shown = [json.dumps(p["blocks"]) for p in slack.accepted_posts("C9")]
    assert len(shown) == 4, "each held story once"
    assert "Story 3" in shown[0] and "Harbour ferry" in shown[-1], "in order, oldest first"


async def test_http_mode_releases_a_held_channel_on_member_joined_channel(
    tmp_path: Path, slack: FakeSlack, feed_server: FeedServer, redis_url: str
) -> None:
    url = feed_server.add("/wire.xml", feed())
    slack.channel_errors["C9"] = "not_in_channel"
    port = free_port()
    env = cli_env(
        tmp_path,
        NEWSBOT_REDIS_URL=redis_url,
        NEWSBOT_CONFIG=subscribed_c9(tmp_path, url),
        NEWSBOT_POLL_INTERVAL="0.5",
        NEWSBOT_HTTP_PORT=str(port),
        SLACK_BOT_TOKEN="xoxb-test",
        SLACK_SIGNING_SECRET=SECRET,
        NEWSBOT_SLACK_API_URL=slack.api_url,
    )
    process = await run_newsbot(tmp_path, env)
    try:
        await until(lambda: len(slack.posts("C9")) >= 1, timeout=30)
        await _settle()
        del slack.channel_errors["C9"]
        body = json.dumps(slack.event_callback({**JOINED, "user": "UBOT"}))
        headers = {**signed(body), "Content-Type": "application/json"}
        status, _ = await post(f"http://127.0.0.1:{port}/slack/events", body, headers)
        assert status == 200
        await until(lambda: len(slack.accepted_posts("C9")) >= 3, timeout=30)
        await _settle()
    finally:
        await stop(process)
    assert len(slack.accepted_posts("C9")) == 3


def test_the_manifest_subscribes_the_events_newsbot_handles() -> None:
    text = MANIFEST.read_text()
    events = re.search(r"bot_events:\n((?:\s+- .*\n)+)", text)
    assert events is not None
    assert re.findall(r"- (\w+)", events.group(1)) == [
        "member_joined_channel",
        "app_uninstalled",
        "tokens_revoked",
    ]
    assert "request_url: https://" in text and "/slack/events" in text
    assert "/slack/oauth_redirect" in text and "org_deploy_enabled: false" in text


async def _settle() -> None:
    await asyncio.sleep(1.5)
