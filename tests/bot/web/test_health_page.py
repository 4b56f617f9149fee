"""The Health page: whether the bot is up, its deliveries, and, for the operator, the
process's roles, checks, pipeline backlog and Redis memory."""

from __future__ import annotations

from typing import Any

from bot.settings import Settings
from bot.store.connection import RedisHandle
from bot.store.ui_auth import OPERATOR, UiAuth
from tests.bot.web.conftest import browser, serving

REPORT: dict[str, Any] = {
    "ok": False,
    "redis": True,
    "roles": {"poller": True, "chat": False},
    "checks": {"slack token": False},
    "outbox": {
        "slack": {
            "queued": 7,
            "oldest_seconds": 42,
            "deliverers": 1,
            "dead_letters": 2,
            "held_channels": 1,
        }
    },
    "pipeline": {"entries": 12, "polling_held_back": False},
}


async def _report() -> dict[str, Any]:
    return REPORT


async def test_the_health_page_shows_deliveries_roles_and_checks(
    settings: Settings, handle: RedisHandle
) -> None:
    auth = UiAuth(handle.client, handle.keys)
    async with serving(settings, handle, health=_report) as base, browser() as session:
        await session.post(f"{base}/ui/login", data={"t": await auth.issue(OPERATOR)})
        async with session.get(f"{base}/ui/health") as page:
            assert page.status == 200
            html = await page.text()
    assert "newsbot needs attention" in html and "Redis answers" in html
    assert "<td>slack</td><td>7</td><td>42 s</td>" in html
    assert "chat: NOT running" in html and "slack token: FAILING" in html
    assert "Entries waiting for the pipeline</dt><dd>12" in html
    memory = html.split("Redis memory</dt><dd>")[1].split("<")[0]
    assert memory and memory != "unknown", memory
