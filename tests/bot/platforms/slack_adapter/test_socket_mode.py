"""`/news` over Socket Mode: slack_sdk's real client on a fake Slack websocket (the URL comes
from apps.connections.open on the fake Web API); each envelope acked, then answered."""

from __future__ import annotations

import asyncio
import contextlib
import time
from pathlib import Path
from typing import Any

import aiohttp

from bot.app import RunningBot, run_bot
from bot.net.guard import allow_any
from bot.settings import Settings
from tests.articles import rss
from tests.bot.cli.test_cli import cli_env
from tests.bot.platforms.slack_adapter.conftest import (
    socket_mode_settings,
    socket_opened,
    wait_for_responses,
)
from tests.bot.platforms.slack_adapter.test_end_to_end import run_newsbot, socket_mode_env, stop
from tests.bot.test_app import free_port
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
    configured = socket_mode_settings(settings, tmp_path, slack)
    stop = asyncio.Event()

    async def exercise(_bot: RunningBot) -> None:
        try:
            await socket_opened(slack)
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


async def healthz(port: int) -> dict[str, Any]:
    async with (
        aiohttp.ClientSession() as http,
        http.get(f"http://127.0.0.1:{port}/healthz") as response,
    ):
        return dict(await response.json(content_type=None))


async def socket_unhealthy(port: int) -> dict[str, Any]:
    """/healthz once it says the Slack socket fails (or after 20 s, whatever it says)."""
    report: dict[str, Any] = {}
    for _ in range(200):
        with contextlib.suppress(aiohttp.ClientError):
            report = await healthz(port)
            if report.get("checks", {}).get("slack socket") is False:
                break
        await asyncio.sleep(0.1)
    return report


async def test_a_refused_app_token_shows_in_healthz_and_sigterm_still_ends_the_process(
    tmp_path: Path, slack: FakeSlack, redis_url: str
) -> None:
    """Slack refuses the app token: one log line (a minute), no traceback, an unhealthy
    check, and the process still stops at once on SIGTERM."""
    port = free_port()
    env = socket_mode_env(tmp_path, slack, redis_url)
    env |= {"SLACK_APP_TOKEN": "xapp-refused", "NEWSBOT_HTTP_PORT": str(port)}
    process = await run_newsbot(tmp_path, env)
    try:
        report = await socket_unhealthy(port)
        assert report["checks"]["slack socket"] is False and report["ok"] is False, report
        await asyncio.sleep(2.0)  # slack_sdk would have retried (and logged) by now
    finally:
        started = time.monotonic()
        log = await stop(process)
        assert time.monotonic() - started < 10, "SIGTERM ends it within 10 s"
    assert log.count("Slack refuses SLACK_APP_TOKEN") == 1, log[-2000:]
    assert "Traceback" not in log
    opened = [c for c in slack.calls if c.method == "apps.connections.open"]
    assert len(opened) == 1 and not slack.sockets


async def test_socket_mode_waits_for_slack_with_backoff_and_stops_at_once(
    tmp_path: Path, redis_url: str
) -> None:
    """Nothing answers at Slack's address: retried with backoff, never a traceback, and
    SIGTERM still ends the process at once."""
    nowhere = f"http://127.0.0.1:{free_port()}/api/"
    port = free_port()
    env = cli_env(
        tmp_path,
        NEWSBOT_REDIS_URL=redis_url,
        NEWSBOT_HTTP_PORT=str(port),
        SLACK_BOT_TOKEN="xoxb-test",
        SLACK_APP_TOKEN="xapp-test",
        NEWSBOT_SLACK_API_URL=nowhere,
    )
    process = await run_newsbot(tmp_path, env)
    try:
        report = await socket_unhealthy(port)
        assert report["checks"]["slack socket"] is False, report
        await asyncio.sleep(3.0)
    finally:
        started = time.monotonic()
        log = await stop(process)
        assert time.monotonic() - started < 10, "SIGTERM ends it within 10 s"
    tries = log.count("cannot reach Slack for Socket Mode")
    assert 1 <= tries <= 4, f"backoff: 1, 2, 4 s … not every moment ({tries} tries)"
    assert "Traceback" not in log
