"""`/news` over Slack's HTTP mode: real slack-bolt behind the bot's own HTTP server, signed
requests as Slack signs them, answers through response_url on a fake Slack."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from bot.app import RunningBot, run_bot
from bot.platforms.slack_adapter.commands import command_text
from bot.settings import Settings
from handlers.article import short_hash
from tests.articles import rss
from tests.bot.platforms.outbox_helpers import hold
from tests.bot.platforms.slack_adapter.conftest import (
    SECRET,
    post,
    signed,
    slash,
    wait_for_responses,
)
from tests.bot.test_app import free_port
from tests.conftest import make_settings
from tests.fakes.feed_server import FeedServer
from tests.fakes.slack_api import FakeSlack

Exercise = Callable[[RunningBot, str], Awaitable[None]]


async def with_bot(
    settings: Settings, tmp_path: Path, slack: FakeSlack, exercise: Exercise
) -> None:
    port = free_port()
    configured = make_settings(
        tmp_path,
        NEWSBOT_REDIS_URL=settings.redis_url.reveal() if settings.redis_url else "",
        NEWSBOT_HTTP_PORT=str(port),
        NEWSBOT_POLL_INTERVAL="0.2",
        SLACK_BOT_TOKEN="xoxb-test",
        SLACK_SIGNING_SECRET=SECRET,
        NEWSBOT_SLACK_API_URL=slack.api_url,
    )
    await while_running(
        configured, lambda bot: exercise(bot, f"http://127.0.0.1:{port}/slack/events")
    )


async def while_running(
    configured: Settings, exercise: Callable[[RunningBot], Awaitable[None]]
) -> None:
    """`run_bot` on these settings, stopped once `exercise` is done with it."""
    from bot.net.guard import allow_any

    stop = asyncio.Event()

    async def run(bot: RunningBot) -> None:
        try:
            await exercise(bot)
        finally:
            stop.set()

    await asyncio.wait_for(
        run_bot(configured, stop=stop, on_started=run, policy=allow_any), timeout=90
    )


async def test_a_signed_command_is_acked_and_answered(
    settings: Settings, tmp_path: Path, slack: FakeSlack
) -> None:
    async def exercise(_bot: RunningBot, events: str) -> None:
        for number, command in enumerate(["help", "quiet Nothing &amp; more today"], start=1):
            body = slash(command, slack)
            status, _text = await post(events, body, signed(body))
            assert status == 200
            await wait_for_responses(slack, number)

    await with_bot(settings, tmp_path, slack, exercise)
    helped, quiet = slack.responses
    assert helped["response_type"] == "ephemeral" and "/news subscribe" in helped["text"]
    assert "/news filter &lt;feed&gt; test &lt;query&gt;" in json.dumps(helped["blocks"])
    assert "An empty digest now says: Nothing &amp; more today" in quiet["text"]  # escaped


@pytest.mark.parametrize("forgery", ["bad signature", "five minutes old", "not a timestamp"])
async def test_forged_or_old_requests_get_401_and_nothing_runs(
    settings: Settings, tmp_path: Path, slack: FakeSlack, forgery: str
) -> None:
    async def exercise(_bot: RunningBot, events: str) -> None:
        body = slash("help", slack)
        headers = (
            signed(body, secret="wrong") if forgery == "bad signature" else signed(body, age=301)
        )
        if forgery == "not a timestamp":
            headers = {**signed(body), "X-Slack-Request-Timestamp": "soon"}
        status, _text = await post(events, body, headers)
        assert status == 401
        await asyncio.sleep(0.5)

    await with_bot(settings, tmp_path, slack, exercise)
    assert slack.responses == [] and not [c for c in slack.calls if c.method == "users.info"]


async def test_a_replayed_request_gets_401_and_runs_nothing(
    settings: Settings, tmp_path: Path, slack: FakeSlack
) -> None:
    """Issue #22: the same signed `/news alert add` sent three times makes one alert."""

    async def exercise(bot: RunningBot, events: str) -> None:
        body = slash("alert add harbour", slack)
        headers = signed(body)
        statuses = [(await post(events, body, headers))[0] for _ in range(3)]
        assert statuses == [200, 401, 401]
        await wait_for_responses(slack, 1)
        await asyncio.sleep(0.5)
        alerts = await bot.handle.client.hlen(bot.handle.keys.alerts)
        assert alerts == 1

    await with_bot(settings, tmp_path, slack, exercise)
    assert len(slack.responses) == 1


async def test_a_channel_alert_posts_only_in_a_channel_of_its_workspace(
    settings: Settings, tmp_path: Path, slack: FakeSlack
) -> None:
    """Issue #22: a channel alert's target is checked with Slack before it is saved."""
    slack.foreign.add("CFAR")

    async def exercise(bot: RunningBot, events: str) -> None:
        for number, text in enumerate(
            ["alert add acme in <#CFAR|elsewhere>", "alert add acme in <#C2|news>"], start=1
        ):
            body = slash(text, slack, name=str(number))
            assert (await post(events, body, signed(body)))[0] == 200
            await wait_for_responses(slack, number)
        alerts = await bot.handle.client.hvals(bot.handle.keys.alerts)
        assert [json.loads(a)["channel"] for a in alerts] == ["slack:T1:C2"]

    await with_bot(settings, tmp_path, slack, exercise)
    far, near = slack.responses
    assert "not a channel of this workspace" in far["text"]
    assert "Alert a1 added" in near["text"]


async def test_an_event_is_handled_once_though_slack_sends_it_again(
    settings: Settings, tmp_path: Path, slack: FakeSlack, caplog: pytest.LogCaptureFixture
) -> None:
    """Events API callbacks are deduplicated by event_id (kept once handled): Slack's retry
    of one comes with a new signature and is acknowledged without running twice."""
    caplog.set_level(logging.INFO, logger="bot.commands.core")

    async def exercise(bot: RunningBot, events: str) -> None:
        await hold(bot.handle, "slack:T1:C9")
        callback = slack.event_callback(
            {"type": "member_joined_channel", "user": "UBOT", "channel": "C9", "team": "T1"}
        )
        body = json.dumps(callback)
        first = {**signed(body), "Content-Type": "application/json"}
        assert (await post(events, body, first))[0] == 200
        await asyncio.sleep(1.1)  # a retry comes later, with a new timestamp and signature
        again = {**signed(body), "Content-Type": "application/json"}
        assert again != first
        assert (await post(events, body, again))[0] == 200
        seen = await bot.handle.client.exists(
            bot.handle.keys.slack_event(short_hash(callback["event_id"]))
        )
        assert seen == 1

    await with_bot(settings, tmp_path, slack, exercise)
    probes = [r for r in caplog.records if r.getMessage().startswith("access may be back")]
    assert len(probes) == 1, "the event ran once"


async def test_subscribe_acks_at_once_while_the_feed_is_slow(
    settings: Settings, tmp_path: Path, slack: FakeSlack, feed_server: FeedServer
) -> None:
    url = feed_server.add(
        "/slow.xml",
        rss("Slow", [{"title": "Harbour reopens", "link": "https://n.example/1", "guid": "1"}]),
        delay=4,
    )

    async def exercise(_bot: RunningBot, events: str) -> None:
        body = slash(f"subscribe <{url}>", slack)  # escaping on: Slack wraps links
        status, text = await post(events, body, signed(body))
        assert status == 200 and "Subscribing" in text
        # The answer needs the feed, which takes 4 s: the ack did not wait for it.
        assert slack.responses == []
        await wait_for_responses(slack, 1)

    await with_bot(settings, tmp_path, slack, exercise)
    [answer] = slack.responses
    assert "Harbour" in answer["text"] or "1 stor" in answer["text"], answer["text"]


async def test_a_member_is_refused_and_told_who_may(
    settings: Settings, tmp_path: Path, slack: FakeSlack
) -> None:
    commands = [
        "subscribe <https://feeds.example.com/rss|feeds.example.com/rss>",
        "mode f1 instant",
        "filter f1 ukraine -sport",
        "quiet No news is good news",
    ]

    async def exercise(_bot: RunningBot, events: str) -> None:
        for number, command in enumerate(commands, start=1):
            body = slash(command, slack, user="UMEMBER")
            status, _text = await post(events, body, signed(body))
            assert status == 200
            await wait_for_responses(slack, number)

    await with_bot(settings, tmp_path, slack, exercise)
    assert len(slack.responses) == len(commands)
    for answer in slack.responses:
        assert "only channel managers" in answer["text"] and "workspace admins" in answer["text"]


@pytest.mark.parametrize(
    ("sent", "read"),
    [
        (
            "subscribe <https://x.example/feed?a=1&amp;b=2>",
            "subscribe https://x.example/feed?a=1&b=2",
        ),
        (
            "subscribe <https://x.example/f|x.example/f> instant",
            "subscribe https://x.example/f instant",
        ),
        ('search "fish &amp; chips" -&lt;b&gt;', 'search "fish & chips" -<b>'),
        ("alert add ukraine in <#C123|general>", "alert add ukraine in <#C123>"),
    ],
)
def test_slack_escaped_text_reads_as_typed(sent: str, read: str) -> None:
    assert command_text(sent) == read


async def test_check_reports_the_workspace_the_bot_and_missing_scopes(
    slack: FakeSlack, tmp_path: Path, redis_url: str
) -> None:
    from tests.bot.cli.test_cli import cli_env, newsbot

    env = cli_env(
        tmp_path,
        NEWSBOT_REDIS_URL=redis_url,
        SLACK_BOT_TOKEN="xoxb-test",
        SLACK_SIGNING_SECRET=SECRET,
        NEWSBOT_SLACK_API_URL=slack.api_url,
    )
    code, out, err = await newsbot("check", env=env)
    assert code == 0, out + err
    assert "slack: ok, HTTP mode, workspace Test (T1), bot @newsbot" in out
    assert "warning: HTTP mode listens on 127.0.0.1 only" in out, "the upgrade's new default"
    code, out, err = await newsbot("check", env={**env, "NEWSBOT_HTTP_HOST": "0.0.0.0"})
    assert code == 0 and "warning" not in out, out + err
    slack.scopes.discard("users:read")
    code, out, _ = await newsbot("check", env=env)
    assert code == 1 and "FAILED: missing scopes" in out and "users:read" in out
    slack.revoked = True
    code, out, _ = await newsbot("check", env=env)
    assert code == 1 and "the bot token is refused (token_revoked)" in out


async def test_check_tests_the_app_token_of_socket_mode(
    slack: FakeSlack, tmp_path: Path, redis_url: str
) -> None:
    from tests.bot.cli.test_cli import cli_env, newsbot

    def env(app_token: str) -> dict[str, str]:
        return cli_env(
            tmp_path,
            NEWSBOT_REDIS_URL=redis_url,
            SLACK_BOT_TOKEN="xoxb-test",
            SLACK_APP_TOKEN=app_token,
            NEWSBOT_SLACK_API_URL=slack.api_url,
        )

    code, out, err = await newsbot("check", env=env("xapp-test"))
    assert code == 0, out + err
    assert "slack: ok, the app token opens Socket Mode connections" in out
    code, out, _ = await newsbot("check", env=env("xapp-wrong"))
    assert code == 1 and "the app token (SLACK_APP_TOKEN) is refused (invalid_auth)" in out
    assert [c.method for c in slack.calls].count("apps.connections.open") == 2


async def test_check_says_in_one_line_that_slack_is_out_of_reach(
    tmp_path: Path, redis_url: str
) -> None:
    from tests.bot.cli.test_cli import cli_env, newsbot
    from tests.bot.test_app import free_port

    nowhere = f"http://127.0.0.1:{free_port()}/api/"  # nothing listens there
    env = cli_env(
        tmp_path,
        NEWSBOT_REDIS_URL=redis_url,
        SLACK_BOT_TOKEN="xoxb-test",
        SLACK_APP_TOKEN="xapp-test",
        NEWSBOT_SLACK_API_URL=nowhere,
    )
    code, out, err = await newsbot("check", env=env)
    assert code == 1, out + err
    [line] = [line for line in out.splitlines() if line.startswith("slack:")]
    assert line.startswith(f"slack: FAILED: cannot reach Slack at {nowhere}")
    assert "Traceback" not in out + err


async def test_a_command_in_a_channel_the_bot_is_not_in_says_to_invite_it(
    settings: Settings, tmp_path: Path, slack: FakeSlack
) -> None:
    slack.outside.add("C1")

    async def exercise(_bot: RunningBot, events: str) -> None:
        body = slash("feeds", slack)
        status, _text = await post(events, body, signed(body))
        assert status == 200
        await wait_for_responses(slack, 1)

    await with_bot(settings, tmp_path, slack, exercise)
    [answer] = slack.responses
    assert "/invite @newsbot" in answer["text"]


async def test_a_refused_bot_token_is_answered_in_newsbots_words(
    settings: Settings, tmp_path: Path, slack: FakeSlack
) -> None:
    answers: list[str] = []

    async def exercise(_bot: RunningBot, events: str) -> None:
        slack.revoked = True
        body = slash("help", slack)
        status, text = await post(events, body, signed(body))
        assert status == 200
        answers.append(text)  # the ack itself: Slack shows it to the member alone

    await with_bot(settings, tmp_path, slack, exercise)
    [answer] = answers
    assert "Slack refuses newsbot's bot token" in answer, answer
    assert "SLACK_BOT_TOKEN" in answer and "installation" not in answer
