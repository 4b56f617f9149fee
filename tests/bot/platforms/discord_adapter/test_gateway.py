"""The Discord gateway: one holder under a lease, resumes after a drop, shards."""

from __future__ import annotations

import asyncio
import io
from pathlib import Path

from bot.app import run_bot
from bot.commands.core import CommandCore
from bot.net.fetch import Fetcher
from bot.net.guard import allow_any
from bot.platforms.discord_adapter.gateway import Gateway
from bot.settings import Settings
from bot.store.connection import RedisHandle
from tests.bot.platforms.discord_adapter.conftest import discord_settings, running
from tests.bot.platforms.discord_adapter.test_commands import ask, connected, wire
from tests.fakes.discord_api import CHANNEL, GUILD, FakeDiscord
from tests.fakes.feed_server import FeedServer

WHERE = f"discord:{GUILD}:{CHANNEL}"


async def test_a_gateway_drop_resumes_and_posts_keep_arriving(
    settings: Settings, tmp_path: Path, discord_api: FakeDiscord, feed_server: FeedServer
) -> None:
    url = feed_server.add("/wire.xml", wire())
    async with running(discord_settings(settings, tmp_path, discord_api)) as bot:
        await connected(discord_api)
        await discord_api.drop()
        # While the gateway is down and resuming, deliveries go out through REST.
        await bot.handle.client.xadd(
            bot.handle.keys.outbox("discord"),
            {"delivery": "q1", "channel": WHERE, "kind": "quiet", "text": "during the drop"},
        )
        await discord_api.wait_posts(1, CHANNEL)
        for _ in range(200):
            if discord_api.resumes:
                break
            await asyncio.sleep(0.05)
        assert discord_api.resumes == 1 and len(discord_api.identifies) == 1, "resumed"
        assert "Subscribed" in await ask(discord_api, "news subscribe", {"url": url})


async def test_one_process_holds_the_gateway_and_another_takes_over(
    settings: Settings, tmp_path: Path, discord_api: FakeDiscord
) -> None:
    configured = discord_settings(settings, tmp_path, discord_api)
    async with running(configured) as first:
        await connected(discord_api)
        async with running(configured) as second:
            await asyncio.sleep(1.0)
            assert len(discord_api.identifies) == 1, "the second process waits for the lease"
            assert first.discord_gateway and first.discord_gateway.connected.is_set()
            assert second.discord_gateway and not second.discord_gateway.connected.is_set()
            assert "/news" in await ask(discord_api, "news help")
            await first_stops(first)
            for _ in range(300):
                if second.discord_gateway.connected.is_set() and discord_api.gateways:
                    break
                await asyncio.sleep(0.05)
            await discord_api.wait_connected()
            assert len(discord_api.identifies) == 2, "the second took over"
            assert "/news" in await ask(discord_api, "news help")


async def first_stops(bot: object) -> None:
    """Let go of the first bot's gateway as its shutdown does (the lease is released)."""
    from bot.app import RunningBot

    assert isinstance(bot, RunningBot)
    bot.tasks["chat:discord gateway"].cancel()
    await asyncio.gather(bot.tasks["chat:discord gateway"], return_exceptions=True)


async def test_more_shards_use_the_auto_sharded_client_and_gateway_bot(
    settings: Settings, tmp_path: Path, discord_api: FakeDiscord
) -> None:
    discord_api.guilds[GUILD + (1 << 22)] = "Second guild"
    configured = discord_settings(
        settings,
        tmp_path,
        discord_api,
        NEWSBOT_DISCORD_SHARDS="2",
        NEWSBOT_DISCORD_GATEWAY_URL="",
    )
    async with running(configured):
        await discord_api.wait_connected(shards=2)
        assert ("GET", "/gateway/bot") in discord_api.requests
        assert sorted(discord_api.identifies) == [(0, 2), (1, 2)]
        assert "/news" in await ask(discord_api, "news help")


async def test_the_console_never_starts_discord(
    settings: Settings, tmp_path: Path, discord_api: FakeDiscord
) -> None:
    stop = asyncio.Event()

    async def started(_bot: object) -> None:
        await asyncio.sleep(0.5)
        stop.set()

    await asyncio.wait_for(
        run_bot(
            discord_settings(settings, tmp_path, discord_api),
            stop=stop,
            on_started=started,
            policy=allow_any,
            console_only=True,
            console_out=io.StringIO(),
            serve_http=False,
        ),
        timeout=30,
    )
    assert discord_api.requests == [] and discord_api.identifies == []


async def test_a_stop_lets_the_answer_being_sent_arrive(
    settings: Settings, tmp_path: Path, discord_api: FakeDiscord, feed_server: FeedServer
) -> None:
    page = feed_server.add(
        "/slow.html",
        "<html><body><article><p>"
        + "The harbour bridge reopened on Monday after two years of repairs. " * 5
        + "</p></article></body></html>",
        content_type="text/html",
        delay=1.5,
    )
    async with running(discord_settings(settings, tmp_path, discord_api)):
        await connected(discord_api)
        _, token = await discord_api.interact("news summarize", {"url": page})
        await discord_api.answered(token)  # deferred; the summary is on its way
    # The bot has stopped: the follow-up it was working on still went out.
    [_deferred, summary] = await discord_api.answered(token, 2, timeout=1)
    assert "harbour bridge reopened" in summary["content"].lower()


async def test_the_lease_is_renewed_while_a_slow_command_sync_runs(
    settings: Settings, tmp_path: Path, discord_api: FakeDiscord, handle: RedisHandle
) -> None:
    """A rate-limited sync outlasts the lease: renewing only once connected let it lapse, and
    a second process could take the gateway while the first still started it."""
    discord_api.sync_delay = 2.5
    configured = discord_settings(settings, tmp_path, discord_api)
    stop = asyncio.Event()
    async with Fetcher(policy=allow_any) as fetcher:
        core = CommandCore(
            client=handle.client, keys=handle.keys, settings=configured, fetcher=fetcher
        )
        gateway = Gateway(
            settings=configured,
            client=handle.client,
            keys=handle.keys,
            core=core,
            holder="first",
            lease=1.2,
        )
        task = asyncio.create_task(gateway.run(stop))
        await asyncio.sleep(2.0)  # inside the sync, past the lease
        holder = await handle.client.get(handle.keys.discord_gateway)
        await discord_api.wait_connected()
        stop.set()
        await asyncio.wait_for(task, timeout=15)
    assert holder == "first"
