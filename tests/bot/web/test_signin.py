"""Signing in to the managers' page over real HTTP: a one-time link from chat, a session
cookie, CSRF on every other POST, and the strict headers on every answer."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from bot.settings import Settings
from bot.store.connection import RedisHandle
from bot.store.ui_auth import LOGINS_PER_MINUTE, Scope, UiAuth
from bot.web.app import COOKIE, HEADERS
from tests.bot.cli.test_cli import cli_env, newsbot
from tests.bot.web.conftest import browser, serving

MEMBER = Scope("slack", "T1", "U1")


@pytest.fixture
async def page(settings: Settings, handle: RedisHandle) -> AsyncIterator[tuple[str, UiAuth]]:
    """The page on a free port; its base URL and the sign-in store."""
    async with serving(settings, handle) as base:
        yield base, UiAuth(handle.client, handle.keys)


def client() -> aiohttp.ClientSession:
    return browser()


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, html
    return found[1]


async def test_a_link_signs_in_once_through_the_form_and_a_preview_uses_nothing_up(
    page: tuple[str, UiAuth],
) -> None:
    base, auth = page
    token = await auth.issue(MEMBER)
    async with client() as browser:
        for _ in range(2):  # a link previewer, then the member
            async with browser.get(f"{base}/ui/login", params={"t": token}) as shown:
                html = await shown.text()
                assert shown.status == 200 and "Sign in to newsbot" in html
                assert "U1 in slack workspace T1" in html
                for name, value in HEADERS.items():
                    assert shown.headers[name] == value
        async with browser.post(
            f"{base}/ui/login", data={"t": token}, allow_redirects=False
        ) as signed:
            assert signed.status == 303 and signed.headers["Location"].endswith("/ui/")
            cookie = signed.headers["Set-Cookie"]
            assert f"{COOKIE}=" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie
            assert "Max-Age=28800" in cookie and "Path=/ui" in cookie
            assert "Secure" not in cookie, "not over http"
        async with browser.get(f"{base}/ui/") as home:
            assert home.status == 200 and "Signed in as U1" in await home.text()
        async with browser.post(f"{base}/ui/login", data={"t": token}) as again:
            assert again.status == 410 and "works once" in await again.text()


async def test_without_a_session_or_with_a_stale_form_nothing_runs(
    page: tuple[str, UiAuth],
) -> None:
    base, auth = page
    async with client() as browser:
        async with browser.get(f"{base}/ui/") as home:
            assert home.status == 401 and "/news dashboard" in await home.text()
        async with browser.post(f"{base}/ui/login", data={"t": await auth.issue(MEMBER)}):
            pass
        async with browser.get(f"{base}/ui/") as home:
            token = csrf_of(await home.text())
        async with browser.post(f"{base}/ui/logout", data={"csrf": "forged"}) as forged:
            assert forged.status == 403 and "out of date" in await forged.text()
            assert forged.headers["X-Frame-Options"] == "DENY", "on refusals too"
        async with browser.get(f"{base}/ui/") as still:
            assert still.status == 200, "the forged POST did not sign out"
        async with browser.post(f"{base}/ui/logout", data={"csrf": token}) as out:
            assert out.status == 200 and "Signed out" in await out.text()
        async with browser.get(f"{base}/ui/") as gone:
            assert gone.status == 401


async def test_sign_ins_past_the_limit_get_429(page: tuple[str, UiAuth]) -> None:
    base, _auth = page
    async with client() as browser:
        statuses = []
        for _ in range(LOGINS_PER_MINUTE + 1):
            async with browser.post(f"{base}/ui/login", data={"t": "x.1.y"}) as answer:
                statuses.append(answer.status)
    assert statuses == [410] * LOGINS_PER_MINUTE + [429]


async def test_the_cookie_is_secure_behind_an_https_public_url(
    settings: Settings, handle: RedisHandle
) -> None:
    auth = UiAuth(handle.client, handle.keys)
    async with (
        serving(settings, handle, public_url="https://news.example.com/") as base,
        client() as session,
        session.post(
            f"{base}/ui/login", data={"t": await auth.issue(MEMBER)}, allow_redirects=False
        ) as signed,
    ):
        assert "Secure" in signed.headers["Set-Cookie"]
        assert signed.headers["Location"] == "https://news.example.com/ui/"


async def test_text_from_the_scope_is_escaped(page: tuple[str, UiAuth]) -> None:
    base, auth = page
    token = await auth.issue(Scope("slack", "T<script>", 'U"><img src=x>'))
    async with client() as browser, browser.get(f"{base}/ui/login", params={"t": token}) as shown:
        html = await shown.text()
    assert "<script>" not in html and "<img" not in html and "&lt;script&gt;" in html


async def test_only_the_pages_own_files_are_served_as_static(page: tuple[str, UiAuth]) -> None:
    base, _auth = page
    async with client() as http:
        for name, kind in (("newsbot.js", "text/javascript"), ("newsbot.svg", "image/svg+xml")):
            async with http.get(f"{base}/ui/static/{name}") as served:
                assert served.status == 200 and served.content_type == kind
                assert served.headers["X-Content-Type-Options"] == "nosniff"
        for other in ("app.py", "..%2Fapp.py", "%2E%2E%2Ftemplates%2Fbase.html"):
            async with http.get(f"{base}/ui/static/{other}") as refused:
                assert refused.status == 404, other


async def test_newsbot_dashboard_prints_a_link_that_signs_in_the_operator(
    settings: Settings, handle: RedisHandle, redis_url: str, tmp_path: Path
) -> None:
    async with serving(settings, handle) as base:
        env = cli_env(tmp_path, NEWSBOT_REDIS_URL=redis_url, NEWSBOT_PUBLIC_URL=base)
        code, out, err = await newsbot("dashboard", env=env)
        assert code == 0 and "15 minutes" in err, err
        link = out.strip()
        assert link.startswith(f"{base}/ui/login?t=")
        async with browser() as session:
            async with session.get(link) as shown:
                assert "the operator (every workspace)" in await shown.text()
            token = link.split("t=", 1)[1]
            await session.post(f"{base}/ui/login", data={"t": token})
            async with session.get(f"{base}/ui/feeds") as feeds:
                assert feeds.status == 200
