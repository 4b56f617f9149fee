"""Issue #22, item 8: the HTTP port holds against a slowloris client, a connection flood
and a /healthz flood, and never lends the roles' Redis connections to HTTP handlers."""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

import aiohttp
import pytest

from bot.app import RunningBot
from bot.http_guard import ConnectionLimits
from bot.http_server import build_http_app, start_http
from bot.settings import Settings
from tests.bot.platforms.discord_adapter.conftest import running
from tests.bot.test_app import free_port


async def serve(limits: ConnectionLimits) -> tuple[Any, int]:
    calls = {"health": 0}

    async def health() -> dict[str, Any]:
        calls["health"] += 1
        return {"ok": True}

    async def metrics() -> bytes:
        return b"newsbot_up 1\n"

    port = free_port()
    runner = await start_http(
        build_http_app(health=health, metrics=metrics), port=port, limits=limits
    )
    return (runner, calls), port


async def closed_within(reader: asyncio.StreamReader, seconds: float) -> bool:
    """Whether the server closes the connection within `seconds` (EOF or a reset)."""
    try:
        return await asyncio.wait_for(reader.read(), seconds) == b""
    except (ConnectionResetError, TimeoutError):
        return False


async def test_a_slowloris_client_is_cut_off_and_others_are_answered() -> None:
    (runner, _calls), port = await serve(ConnectionLimits(header_timeout=0.5))
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        started = time.monotonic()
        for _ in range(3):  # a header line now and then, never the blank line
            await asyncio.sleep(0.2)
            writer.write(b"X-Slow: 1\r\n")
        assert await closed_within(reader, 2.0)
        assert time.monotonic() - started < 2.0
        silent_reader, _silent = await asyncio.open_connection("127.0.0.1", port)
        assert await closed_within(silent_reader, 2.0), "a client that sends nothing too"
        async with (
            aiohttp.ClientSession() as http,
            http.get(f"http://127.0.0.1:{port}/healthz") as response,
        ):
            assert response.status == 200
    finally:
        await runner.cleanup()


async def test_a_kept_alive_connection_with_a_body_is_not_cut_off() -> None:
    """The deadline is for headers: a POST's body and a next request on the connection
    are not mistaken for slow headers."""
    (runner, _calls), port = await serve(ConnectionLimits(header_timeout=0.5))
    try:
        async with aiohttp.ClientSession() as http:
            for _ in range(3):
                async with http.get(f"http://127.0.0.1:{port}/healthz") as response:
                    assert response.status == 200
                await asyncio.sleep(0.7)  # idle longer than the header deadline
    finally:
        await runner.cleanup()


async def test_connections_over_the_cap_are_refused_at_once() -> None:
    (runner, _calls), port = await serve(ConnectionLimits(header_timeout=5, max_connections=3))
    try:
        held = [await asyncio.open_connection("127.0.0.1", port) for _ in range(3)]
        reader, _writer = await asyncio.open_connection("127.0.0.1", port)
        assert await closed_within(reader, 1.0)
        for _r, writer in held:
            writer.close()
        await asyncio.sleep(0.1)
        async with (
            aiohttp.ClientSession() as http,
            http.get(f"http://127.0.0.1:{port}/healthz") as response,
        ):
            assert response.status == 200, "room again once they closed"
    finally:
        await runner.cleanup()


async def test_a_healthz_flood_starves_no_role_and_never_says_503(
    settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    async with running(settings, roles=("poller", "pipeline", "scheduler", "chat")) as bot:
        assert isinstance(bot, RunningBot) and bot.http_port
        url = f"http://127.0.0.1:{bot.http_port}/healthz"
        connector = aiohttp.TCPConnector(limit=0)
        async with aiohttp.ClientSession(connector=connector) as http:

            async def one() -> int:
                async with http.get(url) as response:
                    return response.status

            statuses = await asyncio.gather(*(one() for _ in range(500)))
        await asyncio.sleep(1.0)
    assert statuses.count(200) == 500, sorted(set(statuses))
    redis_errors = [r for r in caplog.records if "Redis" in r.getMessage()]
    assert redis_errors == [], [r.getMessage() for r in redis_errors]
