"""The bot's HTTP server with the managers' page, on a free port, for the web tests."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import replace
from typing import Any

import aiohttp

from bot.http_server import build_http_app, start_http
from bot.settings import Settings
from bot.store.connection import RedisHandle
from bot.store.ui_auth import ManagedChannels, UiAuth
from bot.web.app import build_ui_app
from tests.bot.test_app import free_port


async def _healthy() -> dict[str, object]:
    return {"ok": True}


async def _no_metrics() -> bytes:
    return b""


@contextlib.asynccontextmanager
async def serving(
    settings: Settings,
    handle: RedisHandle,
    *,
    public_url: str | None = None,
    health: Callable[[], Awaitable[dict[str, Any]]] | None = None,
    access: Mapping[str, ManagedChannels] | None = None,
) -> AsyncIterator[str]:
    """The HTTP server with /ui/ on a free port (its links made for `public_url`, or for
    the port itself); yields the base URL to reach it."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    here = replace(settings, public_url=public_url or base)
    ui = build_ui_app(here, handle.client, handle.keys, health=health, access=access)
    runner = await start_http(
        build_http_app(health=_healthy, metrics=_no_metrics, ui=ui), port=port
    )
    try:
        yield base
    finally:
        await runner.cleanup()


def browser() -> aiohttp.ClientSession:
    """A client that keeps cookies for 127.0.0.1, as a browser does."""
    return aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))


async def sign_in(
    session: aiohttp.ClientSession, base: str, handle: RedisHandle, scope: Any
) -> None:
    """Sign `session` in as `scope`, through a one-time link's form."""
    token = await UiAuth(handle.client, handle.keys).issue(scope)
    async with session.post(f"{base}/ui/login", data={"t": token}) as signed:
        assert signed.status == 200, signed.status
