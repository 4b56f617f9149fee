"""Issue #21, item 6: a RedisError in the Discord gateway (here: its command-sync record
is a key of the wrong type) restarts the gateway alone; the outbox consumer posting
meanwhile is never cancelled, so nothing it sends is sent twice."""

from __future__ import annotations

import asyncio
from pathlib import Path

from bot.settings import Settings
from bot.store.connection import RedisHandle
from tests.bot.platforms.discord_adapter.conftest import discord_settings, running
from tests.bot.test_app import wait_for
from tests.fakes.discord_api import CHANNEL, GUILD, FakeDiscord

WHERE = f"discord:{GUILD}:{CHANNEL}"


async def test_a_redis_error_in_the_gateway_never_cancels_a_send(
    settings: Settings, tmp_path: Path, discord_api: FakeDiscord, handle: RedisHandle
) -> None:
    await handle.client.hset(handle.keys.discord_commands, "x", "a hash, not a string")
    for n in range(6):
        await handle.client.xadd(
            handle.keys.outbox("discord"),
            {"delivery": f"n{n}", "channel": WHERE, "kind": "notice", "text": f"notice {n}"},
        )
    configured = discord_settings(settings, tmp_path, discord_api)
    async with running(configured, roles=("chat",)) as bot:

        async def restarted() -> bool:
            return bot.states["chat:discord gateway"].restarts >= 1

        await wait_for(restarted, timeout=20)
        await wait_for(lambda: _true(len(discord_api.posts(CHANNEL)) >= 6), timeout=20)
        await asyncio.sleep(1.0)
        health = await bot.health()
        outbox_restarts = bot.states["chat:discord outbox"].restarts
    assert "ResponseError" in health["restarts"]["chat:discord gateway"]["last_error"]
    assert outbox_restarts == 0, "the consumer was never cancelled"
    contents = [p["content"] for p in discord_api.posts(CHANNEL)]
    assert contents == [f"notice {n}" for n in range(6)], "each once, in order"


async def _true(value: bool) -> bool:
    return value
