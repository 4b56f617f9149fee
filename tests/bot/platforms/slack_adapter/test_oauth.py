"""Slack for many workspaces: installs through "Add to Slack" on a running bot (bolt's
OAuth flow against the fake Slack), each workspace's own token everywhere, uninstall and
reinstall, states used once, tokens refreshed once under a lock, tokens sealed at rest."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import aiohttp
import pytest

from bot.app import RunningBot
from bot.errors import ConfigError
from bot.platforms.slack_adapter.installs import InstallStore, Workspace, WorkspaceTokens
from bot.platforms.slack_adapter.oauth import SignedStates
from bot.roles.channel_cleanup import sweep_uninstalled
from bot.settings import Settings
from bot.store.alerts import AlertStore
from bot.store.connection import RedisHandle
from bot.store.holds import HoldStore
from bot.store.sealed import Sealer, SealError
from bot.store.subscriptions import SubscriptionStore
from bot.store.ui_auth import Scope, UiAuth
from handlers.channels import ChannelRef
from tests.articles import rss
from tests.bot.platforms.outbox_helpers import queue
from tests.bot.platforms.slack_adapter.conftest import SECRET, post, signed, slash
from tests.bot.platforms.slack_adapter.test_http_mode import while_running
from tests.bot.test_app import free_port, wait_for
from tests.conftest import make_settings
from tests.fakes.feed_server import FeedServer
from tests.fakes.slack_api import FakeSlack

SECRET_KEY = "a-test-key-of-more-than-32-characters"
Exercise = Callable[[RunningBot, str], Awaitable[None]]


def oauth_env(settings: Settings, slack: FakeSlack, port: int) -> dict[str, str]:
    return {
        "NEWSBOT_REDIS_URL": settings.redis_url.reveal() if settings.redis_url else "",
        "NEWSBOT_HTTP_PORT": str(port),
        "NEWSBOT_PUBLIC_URL": f"http://127.0.0.1:{port}",
        "NEWSBOT_POLL_INTERVAL": "0.2",
        "SLACK_CLIENT_ID": slack.client_id,
        "SLACK_CLIENT_SECRET": slack.client_secret,
        "SLACK_STATE_SECRET": "state-secret",
        "SLACK_SIGNING_SECRET": SECRET,
        "NEWSBOT_SECRET_KEY": SECRET_KEY,
        "NEWSBOT_SLACK_API_URL": slack.api_url,
        "NEWSBOT_SLACK_AUTHORIZE_URL": slack.authorize_url,
    }


async def with_oauth_bot(
    settings: Settings, tmp_path: Path, slack: FakeSlack, exercise: Exercise
) -> None:
    port = free_port()
    configured = make_settings(tmp_path, **oauth_env(settings, slack, port))
    await while_running(configured, lambda bot: exercise(bot, f"http://127.0.0.1:{port}"))


async def command(events: str, slack: FakeSlack, text: str, *, team: str, channel: str) -> None:
    answered = len(slack.responses)
    body = slash(text, slack, team=team, channel=channel, name=f"{team}-{answered}")
    status, _ack = await post(events, body, signed(body))
    assert status == 200

    async def answered_now() -> bool:
        return len(slack.responses) > answered

    await wait_for(answered_now, what=f"an answer to {text!r}")


async def send_event(events: str, slack: FakeSlack, event: dict[str, object], team: str) -> None:
    body = json.dumps(slack.event_callback(event, team=team))
    status, _ = await post(events, body, {**signed(body), "Content-Type": "application/json"})
    assert status == 200


def teams_of(slack: FakeSlack, method: str, channel: str | None = None) -> set[str]:
    return {slack.team_of(token) for token in slack.tokens_used(method, channel)}


def feeds(feed_server: FeedServer, *, more: bool = False) -> tuple[str, str]:
    """Two feeds: one for a channel of T1, one for a channel of T2; `more` adds a story
    to each."""
    wire = [{"title": "Harbour bridge reopens", "link": "https://w.example/1"}]
    intranet = [{"title": "Zebra-42 merger plan", "link": "https://i.example/1"}]
    if more:
        wire.append({"title": "Harbour ferry returns", "link": "https://w.example/2"})
        intranet.append({"title": "Zebra-42 merger signed", "link": "https://i.example/2"})
    return (
        feed_server.add("/wire.xml", rss("Wire", wire)),
        feed_server.add("/intranet.xml", rss("Intranet", intranet)),
    )


async def test_two_workspaces_each_get_their_own_posts_with_their_own_token(
    settings: Settings, tmp_path: Path, slack: FakeSlack, feed_server: FeedServer
) -> None:
    wire, intranet = feeds(feed_server)

    async def exercise(bot: RunningBot, base: str) -> None:
        events = f"{base}/slack/events"
        for team in ("T1", "T2"):
            await slack.install(base, team)
        # A member of T1 wants anything on the harbour or zebras, by DM.
        alert = slash("alert add harbour OR zebra", slack, team="T1", user="UT1", name="a")
        assert (await post(events, alert, signed(alert)))[0] == 200
        await command(events, slack, f"subscribe <{wire}> instant", team="T1", channel="C1")
        await command(events, slack, f"subscribe <{intranet}> instant", team="T2", channel="C2")

        async def posted() -> bool:
            return bool(slack.accepted_posts("C1") and slack.accepted_posts("C2"))

        await wait_for(posted, what="a post in each workspace")
        # New stories in both feeds: the alert sees T1's, never T2's.
        feeds(feed_server, more=True)

        async def alerted() -> bool:
            return len(slack.accepted_posts("C2")) > 1 and bool(slack.accepted_posts("DUT1"))

        await wait_for(alerted, what="T2's next story and T1's alert DM")
        await command(events, slack, "search zebra", team="T1", channel="C1")
        assert "Zebra" not in json.dumps(slack.responses[-1]), "T2's story is not T1's"
        await command(events, slack, "search zebra", team="T2", channel="C2")
        assert "Zebra-42" in json.dumps(slack.responses[-1])
        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as page:
            token = await UiAuth(bot.handle.client, bot.handle.keys).issue(
                Scope("slack", "T1", "UADMIN")
            )
            await page.post(f"{base}/ui/login", data={"t": token})
            async with page.get(f"{base}/ui/channels") as channels:
                shown = await channels.text()
        assert "slack:T1:C1" in shown and "slack:T2:C2" not in shown, "T1's page: T1 only"

    await with_oauth_bot(settings, tmp_path, slack, exercise)
    assert teams_of(slack, "chat.postMessage", "C1") == {"T1"}
    assert teams_of(slack, "chat.postMessage", "C2") == {"T2"}
    assert teams_of(slack, "conversations.info", "C1") == {"T1"}
    assert teams_of(slack, "conversations.info", "C2") == {"T2"}, "a command in T2: T2's token"
    assert "Harbour" not in json.dumps(slack.posts("C2"))
    assert "xoxb-test" not in slack.tokens_used("chat.postMessage"), "no single token in use"
    dms = json.dumps(slack.posts("DUT1"))
    assert "Harbour" in dms and "Zebra" not in dms, "an alert sees its own workspace only"
    assert teams_of(slack, "chat.postMessage", "DUT1") == {"T1"}
    assert teams_of(slack, "conversations.open") == {"T1"}


async def test_an_uninstalled_workspace_is_held_alone_and_a_reinstall_resumes_it(
    settings: Settings, tmp_path: Path, slack: FakeSlack, feed_server: FeedServer
) -> None:
    wire, _intranet = feeds(feed_server)

    async def exercise(bot: RunningBot, base: str) -> None:
        events = f"{base}/slack/events"
        for team in ("T1", "T2"):
            await slack.install(base, team)
        await send_event(events, slack, {"type": "app_uninstalled"}, "T2")
        slack.revoke_team("T2")
        holds = HoldStore(bot.handle.client, bot.handle.keys, ttl=86400)

        async def t2_held() -> bool:
            return "slack:T2:C2" in await holds.all_held(["slack"])

        await command(events, slack, f"subscribe <{wire}> instant", team="T1", channel="C1")
        await command(events, slack, "help", team="T2", channel="C2")
        assert "not installed" in slack.responses[-1]["text"], "newsbot's own words"
        await queue(
            bot.handle, "slack:T2:C2", "notice-1", kind="notice", text="Held while uninstalled"
        )
        await wait_for(t2_held, what="T2's channel held")

        async def t1_posted() -> bool:
            return bool(slack.accepted_posts("C1"))

        await wait_for(t1_posted, what="T1 still delivered")
        await slack.install(base, "T2")

        async def t2_delivered() -> bool:
            return any("Held while" in str(p.get("text")) for p in slack.accepted_posts("C2"))

        await wait_for(t2_delivered, what="the reinstall resumed T2's held delivery")

    await with_oauth_bot(settings, tmp_path, slack, exercise)


async def test_a_refused_token_holds_its_workspace_only(
    settings: Settings, tmp_path: Path, slack: FakeSlack
) -> None:
    """Slack stops taking one workspace's token with no event (revoked elsewhere): that
    workspace's channels are held, the other's are delivered, and the bot stays healthy."""

    async def exercise(bot: RunningBot, base: str) -> None:
        for team in ("T1", "T2"):
            await slack.install(base, team)
        slack.revoke_team("T2")
        for channel in ("slack:T2:C2", "slack:T1:C1"):
            await queue(bot.handle, channel, f"n-{channel}", kind="notice", text="Hello")
        holds = HoldStore(bot.handle.client, bot.handle.keys, ttl=86400)

        async def settled() -> bool:
            held = await holds.all_held(["slack"])
            return "slack:T2:C2" in held and bool(slack.accepted_posts("C1"))

        await wait_for(settled, what="T2 held, T1 delivered")
        assert "token" in (await holds.all_held(["slack"]))["slack:T2:C2"].reason
        assert (await bot.health())["checks"]["slack token"] is True

    await with_oauth_bot(settings, tmp_path, slack, exercise)
    assert slack.accepted_posts("C2") == []


async def test_a_spent_or_forged_state_is_refused(
    settings: Settings, tmp_path: Path, slack: FakeSlack
) -> None:
    async def exercise(bot: RunningBot, base: str) -> None:
        back = await slack.install(base, "T1")
        state = back.split("state=", 1)[1]
        cookie = {"Cookie": f"slack-app-oauth-state={state}"}  # the same browser
        async with aiohttp.ClientSession() as session, session.get(back, headers=cookie) as again:
            assert again.status == 401, "a redirect with a spent state installs nothing"
            assert "invalid_state" in await again.text()
        states = SignedStates(bot.handle.client, bot.handle.keys, secret="state-secret")
        state = await states.async_issue()
        assert not await states.async_consume(state.split(".")[0] + ".forged")
        assert await states.async_consume(state)
        assert not await states.async_consume(state), "used once"
        short = SignedStates(bot.handle.client, bot.handle.keys, secret="state-secret")
        short._expiration = 1
        late = await short.async_issue()
        await asyncio.sleep(1.5)
        assert not await short.async_consume(late), "expired"

    await with_oauth_bot(settings, tmp_path, slack, exercise)
    assert len([c for c in slack.calls if c.method == "oauth.v2.access"]) == 1


async def test_a_token_near_expiry_is_refreshed_once_by_one_of_many_processes(
    handle: RedisHandle, slack: FakeSlack
) -> None:
    slack.rotation = True
    slack.refresh_tokens["xoxe-old"] = "T1"
    slack.issued["xoxb-old"] = "T1"
    store = InstallStore(handle.client, handle.keys, Sealer(SECRET_KEY))
    await store.put(
        Workspace(
            team_id="T1",
            bot_token="xoxb-old",
            refresh_token="xoxe-old",
            expires_at=time.time() + 600,  # within the two hours before expiry
        )
    )
    processes = [
        WorkspaceTokens(
            InstallStore(handle.client, handle.keys, Sealer(SECRET_KEY)),
            handle.client,
            handle.keys,
            api_url=slack.api_url,
            client_id=slack.client_id,
            client_secret=slack.client_secret,
        )
        for _ in range(4)
    ]
    tokens = await asyncio.gather(*(p.token("T1") for p in processes))
    refreshes = [c for c in slack.calls if c.method == "oauth.v2.access"]
    assert len(refreshes) == 1 and refreshes[0].ok, "a refresh token works once"
    stored = await store.get("T1")
    assert stored is not None and stored.bot_token != "xoxb-old"
    assert stored.expires_at > time.time() + 40000
    assert set(tokens) <= {"xoxb-old", stored.bot_token}
    assert await processes[0].token("T1") == stored.bot_token


async def test_tokens_are_sealed_at_rest_and_open_only_with_their_key(handle: RedisHandle) -> None:
    store = InstallStore(handle.client, handle.keys, Sealer(SECRET_KEY))
    await store.put(Workspace(team_id="T1", bot_token="xoxb-secret-token", refresh_token="xoxe-r"))
    raw = str(await handle.client.hget(handle.keys.slack_installs, "T1"))
    assert "xoxb" not in raw and "xoxe" not in raw
    other = InstallStore(handle.client, handle.keys, Sealer("another-key-of-at-least-32-chars!"))
    with pytest.raises(SealError, match="NEWSBOT_SECRET_KEY"):
        await other.get("T1")


async def test_a_workspace_gone_past_the_refused_days_is_removed_and_logged(
    handle: RedisHandle, caplog: pytest.LogCaptureFixture
) -> None:
    store = SubscriptionStore(handle.client, handle.keys)
    gone, kept = ChannelRef("slack", "T2", "C2"), ChannelRef("slack", "T1", "C1")
    for channel in (gone, kept):
        await store.subscribe(channel, "f1", now=1)
        await AlertStore(handle.client, handle.keys).add(
            origin=channel, user=f"U{channel.workspace}", query="ukraine", channel=None,
            limit=25, now=1,
        )  # fmt: skip
    installs = InstallStore(handle.client, handle.keys, Sealer(SECRET_KEY))
    now = time.time()
    await installs.remove("T2", now=now - 31 * 86400)
    assert await sweep_uninstalled(handle.client, handle.keys, now=now, after=40 * 86400) == 0
    assert await sweep_uninstalled(handle.client, handle.keys, now=now, after=30 * 86400) == 1
    assert await store.of_channel(gone) == [] and len(await store.of_channel(kept)) == 1
    alerts = await AlertStore(handle.client, handle.keys).all()
    assert [a.workspace for a in alerts] == ["T1"]
    assert await installs.uninstalled() == {}
    [logged] = [r for r in caplog.records if "uninstalled newsbot" in r.getMessage()]
    assert (logged.channels, logged.alerts, logged.team) == ("slack:T2:C2", 1, "T2")  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("extra", "said"),
    [
        ({"SLACK_BOT_TOKEN": "xoxb-1"}, "SLACK_BOT_TOKEN and SLACK_CLIENT_ID are both set"),
        ({"NEWSBOT_SECRET_KEY": ""}, "set NEWSBOT_SECRET_KEY"),
        ({"NEWSBOT_PUBLIC_URL": "http://news.example.com"}, "https address"),
        ({"SLACK_STATE_SECRET": ""}, "needs SLACK_STATE_SECRET"),
        ({"SLACK_APP_TOKEN": "xapp-1"}, "Socket Mode"),
    ],
)
def test_oauth_mode_is_checked_as_a_whole(
    settings: Settings, tmp_path: Path, slack: FakeSlack, extra: dict[str, str], said: str
) -> None:
    env = {**oauth_env(settings, slack, 3000), **extra}
    with pytest.raises(ConfigError) as refused:
        make_settings(tmp_path, **env)
    assert said in str(refused.value)


async def test_check_lists_every_installed_workspace_and_both_modes_exit_2(
    settings: Settings, tmp_path: Path, slack: FakeSlack
) -> None:
    from tests.bot.cli.test_cli import cli_env, newsbot

    async def exercise(bot: RunningBot, base: str) -> None:
        for team in ("T1", "T2"):
            await slack.install(base, team)
        await bot.slack.oauth.gone("T2", "uninstalled")  # type: ignore[union-attr]

    await with_oauth_bot(settings, tmp_path, slack, exercise)
    env = cli_env(tmp_path, **oauth_env(settings, slack, free_port()))
    code, out, err = await newsbot("check", env=env)
    assert code == 0, out + err
    assert "slack: ok, OAuth mode, installed in 1 workspace(s)" in out
    assert "ok, OAuth, workspace Test (T1), bot @newsbot" in out
    assert "scopes channels:read,chat:write,commands,groups:read,im:write,users:read" in out
    assert "T2: uninstalled 0 days ago; its channels are held until a reinstall" in out
    code, out, err = await newsbot("check", env={**env, "SLACK_BOT_TOKEN": "xoxb-1"})
    assert code == 2 and "SLACK_BOT_TOKEN and SLACK_CLIENT_ID are both set" in out + err
    code, out, err = await newsbot("check", env={**env, "NEWSBOT_SECRET_KEY": "x" * 40})
    assert code == 1 and "NEWSBOT_SECRET_KEY is not the key" in out, out + err
