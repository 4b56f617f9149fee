"""The whole way, with `newsbot run` as a real process: feed server → poller → pipeline →
instant posts and a scheduled digest → the fake Slack; and `/news` in both modes."""

from __future__ import annotations

import asyncio
import json
import signal
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from tests.articles import rss
from tests.bot.cli.test_cli import cli_env
from tests.bot.platforms.slack_adapter.conftest import (
    SECRET,
    post,
    signed,
    slash,
    wait_for_responses,
)
from tests.bot.test_app import free_port
from tests.fakes.feed_server import FeedServer
from tests.fakes.slack_api import FakeSlack

NOW = datetime.now(UTC)


def feed(newer: list[dict[str, object]] | None = None) -> str:
    return rss(
        "Wire",
        (newer or [])
        + [
            {
                "title": f"Story {n}: harbour bridge reopens after repairs",
                "link": f"https://wire.example/{n}",
                "guid": str(n),
                "published": NOW - timedelta(minutes=n),
                "description": f"Story {n} happened today. More details follow here.",
            }
            for n in range(1, 4)
        ],
    )


async def run_newsbot(
    tmp_path: Path, env: dict[str, str], *, stdout: int = asyncio.subprocess.DEVNULL
) -> asyncio.subprocess.Process:
    """`newsbot run` as a process, its log on stderr (and its console posts on `stdout`)."""
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "run", env=env, stdout=stdout, stderr=asyncio.subprocess.PIPE
    )


async def until(predicate, timeout: float) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "not in time"
        await asyncio.sleep(0.1)


async def stop(process: asyncio.subprocess.Process) -> str:
    process.send_signal(signal.SIGTERM)
    _out, err = await asyncio.wait_for(process.communicate(), timeout=30)
    assert process.returncode == 0, err.decode()[-3000:]
    return err.decode()


def config(tmp_path: Path, url: str, *, schedule: str = "* * * * *") -> Path:
    """C1 follows the feed instantly; C2 in digests on `schedule`."""
    path = tmp_path / "newsbot.toml"
    path.write_text(
        f'[[channels]]\nid = "slack:T1:C1"\n[[channels.feeds]]\nurl = "{url}"\nmode = "instant"\n'
        f'[[channels]]\nid = "slack:T1:C2"\nschedule = "{schedule}"\n'
        f'[[channels.feeds]]\nurl = "{url}"\n'
    )
    return path


async def test_http_mode_instant_posts_a_scheduled_digest_and_a_command(
    tmp_path: Path, slack: FakeSlack, feed_server: FeedServer, redis_url: str
) -> None:
    url = feed_server.add("/wire.xml", feed())
    port = free_port()
    env = cli_env(
        tmp_path,
        NEWSBOT_REDIS_URL=redis_url,
        NEWSBOT_CONFIG=str(config(tmp_path, url)),
        NEWSBOT_POLL_INTERVAL="0.5",
        NEWSBOT_HTTP_PORT=str(port),
        SLACK_BOT_TOKEN="xoxb-test",
        SLACK_SIGNING_SECRET=SECRET,
        NEWSBOT_SLACK_API_URL=slack.api_url,
    )
    process = await run_newsbot(tmp_path, env)
    try:
        await until(lambda: len(slack.posts("C1")) >= 3, timeout=30)
        body = slash("feeds", slack, name="feeds")
        status, _text = await post(f"http://127.0.0.1:{port}/slack/events", body, signed(body))
        assert status == 200
        await wait_for_responses(slack, 1)
        # The digest channel's cron fires at the next minute.
        await until(lambda: len(slack.posts("C2")) >= 1, timeout=75)
    finally:
        await stop(process)
    titles = [json.dumps(p["blocks"]) for p in slack.posts("C1")]
    assert len(titles) == 3 and "Story 3" in titles[0] and "Story 1" in titles[-1], "oldest first"
    [digest] = slack.posts("C2")
    assert all(f"Story {n}" in json.dumps(digest["blocks"]) for n in range(1, 4))
    assert "f1" in slack.responses[0]["text"] and "instant" in slack.responses[0]["text"]


def socket_mode_env(
    tmp_path: Path, slack: FakeSlack, redis_url: str, **more: str
) -> dict[str, str]:
    """`newsbot run` in Socket Mode on the fake Slack, polling every half second."""
    return cli_env(
        tmp_path,
        NEWSBOT_REDIS_URL=redis_url,
        NEWSBOT_POLL_INTERVAL="0.5",
        NEWSBOT_HTTP_PORT=str(free_port()),
        SLACK_BOT_TOKEN="xoxb-test",
        SLACK_APP_TOKEN="xapp-test",
        NEWSBOT_SLACK_API_URL=slack.api_url,
        **more,
    )


async def test_socket_mode_answers_a_command_and_posts(
    tmp_path: Path, slack: FakeSlack, feed_server: FeedServer, redis_url: str
) -> None:
    url = feed_server.add("/wire.xml", feed())
    process = await run_newsbot(tmp_path, socket_mode_env(tmp_path, slack, redis_url))
    try:
        await until(lambda: bool(slack.sockets), timeout=30)
        await slack.send_command(f"subscribe <{url}> instant", name="sub")
        await wait_for_responses(slack, 1)
        await until(lambda: len(slack.posts("C1")) >= 3, timeout=30)
    finally:
        log = await stop(process)
    assert "3" in slack.responses[0]["text"], slack.responses[0]["text"]
    # Nothing a user cannot act on: bolt's note on the token, a config file there is not.
    assert "As you gave `client`" not in log and "applied newsbot.toml" not in log, log


def with_new_story(title: str) -> str:
    """The wire feed after a new story arrived at its top."""
    new = {
        "title": title,
        "link": "https://wire.example/new",
        "guid": "new",
        "published": datetime.now(UTC),
        "description": f"{title}. Crews worked through the night.",
    }
    return feed([new])


async def test_an_alert_dms_a_new_story_and_not_the_first_fetch(
    tmp_path: Path, slack: FakeSlack, feed_server: FeedServer, redis_url: str
) -> None:
    url = feed_server.add("/wire.xml", feed())
    (tmp_path / "newsbot.toml").write_text(
        f'[[channels]]\nid = "slack:T1:C1"\n[[channels.feeds]]\nurl = "{url}"\nmode = "instant"\n'
    )
    env = socket_mode_env(tmp_path, slack, redis_url, NEWSBOT_CONFIG=str(tmp_path / "newsbot.toml"))
    process = await run_newsbot(tmp_path, env)
    try:
        await until(lambda: len(slack.posts("C1")) >= 3 and bool(slack.sockets), timeout=30)
        await slack.send_command("alert add harbour", name="alert")
        await wait_for_responses(slack, 1)
        assert "Alert a1 added" in slack.responses[0]["text"]
        feed_server.add("/wire.xml", with_new_story("Harbour ferry returns to service"))
        await until(lambda: len(slack.posts("DUADMIN")) >= 1, timeout=30)
        await asyncio.sleep(1.0)
    finally:
        await stop(process)
    [dm] = slack.posts("DUADMIN")
    shown = json.dumps(dm["blocks"])
    assert "Harbour ferry returns" in shown and "matched: *harbour*" in shown
    assert "alert a1 'harbour'" in shown
    assert "bridge reopens" not in shown, "the first fetch never alerts"
