"""The fake Discord every Discord test talks to, and a bot running against it."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.app import RunningBot, run_bot
from bot.net.guard import allow_any
from bot.settings import Settings
from tests.conftest import make_settings
from tests.fakes.discord_api import GUILD, FakeDiscord


@pytest.fixture
async def discord_api() -> AsyncIterator[FakeDiscord]:
    """A fake Discord; every message newsbot sent must be one Discord accepts (`problems`)."""
    fake = FakeDiscord()
    await fake.start()
    yield fake
    await fake.stop()
    assert fake.problems == []


def discord_settings(settings: Settings, tmp_path: Path, fake: FakeDiscord, **env: str) -> Settings:
    redis_url = settings.redis_url.reveal() if settings.redis_url else ""
    return make_settings(
        tmp_path,
        **{
            "NEWSBOT_REDIS_URL": redis_url,
            "NEWSBOT_POLL_INTERVAL": "0.2",
            "DISCORD_TOKEN": fake.token,
            "NEWSBOT_DISCORD_API_URL": fake.api_url,
            "NEWSBOT_DISCORD_GATEWAY_URL": fake.gateway_url,
            "NEWSBOT_DISCORD_GUILD_IDS": str(GUILD),
            **env,
        },
    )


@contextlib.asynccontextmanager
async def running(
    settings: Settings, *, roles: tuple[str, ...] | None = None
) -> AsyncIterator[RunningBot]:
    """`run_bot` in a task, yielded once started; stopped on the way out."""
    stop = asyncio.Event()
    started: asyncio.Future[RunningBot] = asyncio.get_running_loop().create_future()

    async def on_started(bot: RunningBot) -> None:
        started.set_result(bot)

    extra = {} if roles is None else {"roles": roles}
    task = asyncio.create_task(
        run_bot(settings, stop=stop, on_started=on_started, policy=allow_any, **extra)
    )
    try:
        done, _ = await asyncio.wait({task, started}, timeout=30, return_when="FIRST_COMPLETED")
        if task in done:
            task.result()  # raises what stopped it
        yield started.result()
    finally:
        stop.set()
        await asyncio.wait_for(task, timeout=30)
