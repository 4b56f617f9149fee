"""The whole way, with `newsbot run` as a real process: feed server → poller → pipeline →
instant posts and a scheduled digest → the fake Discord; `/news` answered over the gateway;
and `newsbot check` on the token, the invite URL and the bot's servers."""

from __future__ import annotations

import asyncio
from pathlib import Path

from bot.platforms.discord_adapter.connection import invite_url
from tests.bot.cli.test_cli import cli_env, newsbot
from tests.bot.platforms.discord_adapter.test_commands import ask, connected
from tests.bot.platforms.slack_adapter.test_end_to_end import (
    feed,
    run_newsbot,
    stop,
    until,
    with_new_story,
)
from tests.bot.test_app import free_port
from tests.fakes.discord_api import ADMIN, APP_ID, CHANNEL, GUILD, FakeDiscord
from tests.fakes.feed_server import FeedServer

DIGESTS = 810000000000000002


def running_env(tmp_path: Path, redis_url: str, fake: FakeDiscord, **extra: str) -> dict[str, str]:
    """`newsbot run` on the fake Discord, polling every half second."""
    return discord_env(
        tmp_path,
        fake,
        NEWSBOT_REDIS_URL=redis_url,
        NEWSBOT_HTTP_PORT=str(free_port()),
        NEWSBOT_POLL_INTERVAL="0.5",
        **extra,
    )


def discord_env(tmp_path: Path, fake: FakeDiscord, **extra: str) -> dict[str, str]:
    return cli_env(
        tmp_path,
        DISCORD_TOKEN=fake.token,
        NEWSBOT_DISCORD_API_URL=fake.api_url,
        NEWSBOT_DISCORD_GATEWAY_URL=fake.gateway_url,
        NEWSBOT_DISCORD_GUILD_IDS=str(GUILD),
        **extra,
    )


async def run_with(
    tmp_path: Path, redis_url: str, fake: FakeDiscord, url: str, more_config: str = ""
) -> asyncio.subprocess.Process:
    """`newsbot run` as a process, with the feed at `url` instant in CHANNEL (and any more
    config), polling every half second."""
    (tmp_path / "newsbot.toml").write_text(
        f'[[channels]]\nid = "discord:{GUILD}:{CHANNEL}"\n'
        f'[[channels.feeds]]\nurl = "{url}"\nmode = "instant"\n{more_config}'
    )
    env = running_env(tmp_path, redis_url, fake, NEWSBOT_CONFIG=str(tmp_path / "newsbot.toml"))
    return await run_newsbot(tmp_path, env)


async def test_newsbot_run_posts_stories_and_digests_and_answers_news(
    tmp_path: Path, redis_url: str, discord_api: FakeDiscord, feed_server: FeedServer
) -> None:
    discord_api.channels[DIGESTS] = GUILD
    url = feed_server.add("/wire.xml", feed())
    digests = f'[[channels]]\nid = "discord:{GUILD}:{DIGESTS}"\nschedule = "* * * * *"\n'
    config = digests + f'[[channels.feeds]]\nurl = "{url}"\n'
    process = await run_with(tmp_path, redis_url, discord_api, url, config)
    try:
        await until(lambda: len(discord_api.posts(CHANNEL)) >= 3, timeout=60)
        await until(lambda: len(discord_api.posts(DIGESTS)) >= 1, timeout=75)
        await connected(discord_api)
        assert "f1" in await ask(discord_api, "news feeds")
    finally:
        log = await stop(process)
    stories = discord_api.posts(CHANNEL)
    titles = [p["embeds"][0]["title"] for p in stories]
    assert sorted(titles) == sorted({*titles}), "no story twice"
    [digest] = discord_api.posts(DIGESTS)[:1]
    assert len(digest["embeds"]) == 3 and "digest" in digest["content"].lower()
    assert "Discord gateway connected" in log
    assert discord_api.problems == []


async def test_check_verifies_the_token_and_prints_the_invite_url_and_servers(
    tmp_path: Path, redis_url: str, discord_api: FakeDiscord
) -> None:
    env = discord_env(tmp_path, discord_api, NEWSBOT_REDIS_URL=redis_url)
    code, out, err = await newsbot("check", env=env)
    assert code == 0, out + err
    assert "voice will NOT be supported" not in err, "newsbot never uses voice"
    assert "discord: ok, bot @newsbot" in out
    assert invite_url(APP_ID) in out
    assert "scope=bot+applications.commands&permissions=19456" in invite_url(APP_ID)
    assert f"Test guild ({GUILD})" in out
    discord_api.revoked = True
    code, out, _ = await newsbot("check", env=env)
    assert code == 1 and "Discord refuses DISCORD_TOKEN" in out


async def test_an_alert_dms_a_new_story_on_discord(
    tmp_path: Path, redis_url: str, discord_api: FakeDiscord, feed_server: FeedServer
) -> None:
    url = feed_server.add("/wire.xml", feed())
    process = await run_with(tmp_path, redis_url, discord_api, url)
    try:
        await until(lambda: len(discord_api.posts(CHANNEL)) >= 3, timeout=60)
        await connected(discord_api)
        assert "Alert a1 added" in await ask(discord_api, "news alert add", {"query": "harbour"})
        feed_server.add("/wire.xml", with_new_story("Harbour ferry returns to service"))
        await until(lambda: len(discord_api.dms(ADMIN)) >= 1, timeout=30)
    finally:
        await stop(process)
    [dm] = discord_api.dms(ADMIN)
    [embed] = dm["embeds"]
    assert embed["title"] == "Harbour ferry returns to service"
    assert "matched: **harbour**" in embed["description"] and "alert a1" in embed["footer"]["text"]
    assert discord_api.problems == []
