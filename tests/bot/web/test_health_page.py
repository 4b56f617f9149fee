"""The Health page: whether the bot is up, its deliveries, and, for the operator, the
process's roles, checks, pipeline backlog and Redis memory."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from bot.roles.outbox_lag import channels_lag
from bot.settings import Settings
from bot.store.connection import RedisHandle
from bot.store.subscriptions import SubscriptionStore
from bot.store.ui_auth import OPERATOR, Scope
from handlers.channels import ChannelRef
from tests.bot.web.conftest import browser, serving, sign_in

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
    async with serving(settings, handle, health=_report) as base, browser() as session:
        await sign_in(session, base, handle, OPERATOR)
        async with session.get(f"{base}/ui/health") as page:
            assert page.status == 200
            html = await page.text()
    assert "newsbot needs attention" in html and "Redis answers" in html
    assert "<td>slack</td><td>7</td><td>42 s</td>" in html
    assert "chat: NOT running" in html and "slack token: FAILING" in html
    assert "Entries waiting for the pipeline</dt><dd>12" in html
    memory = html.split("Redis memory</dt><dd>")[1].split("<")[0]
    assert memory and memory != "unknown", memory


async def test_a_manager_sees_what_waits_for_their_channels_only(
    settings: Settings, handle: RedisHandle
) -> None:
    mine, theirs = ChannelRef("slack", "T1", "C1"), ChannelRef("slack", "T2", "C9")
    store = SubscriptionStore(handle.client, handle.keys)
    for channel in (mine, theirs):
        await store.subscribe(channel, "f1", now=1)
    now_ms = int(time.time() * 1000)
    stream = handle.keys.outbox("slack")
    queued = [(theirs, 600), (mine, 120), (theirs, 60), (mine, 30)]  # seconds ago, in order
    for channel, seconds in queued:
        entry = f"{now_ms - seconds * 1000}-0"
        await handle.client.xadd(stream, {"channel": str(channel), "kind": "notice"}, id=entry)

    async def manages(scope: Scope, channels: Sequence[str]) -> set[str]:
        return set(channels)

    access = {"slack": manages}
    async with serving(settings, handle, access=access) as base, browser() as session:
        await sign_in(session, base, handle, Scope("slack", "T1", "U1"))
        async with session.get(f"{base}/ui/health") as page:
            html = await page.text()
    assert "2 deliveries waiting, the oldest queued 2m ago" in html
    assert "<td>slack</td>" not in html, "the platform's whole outbox is the operator's"
    lag = await channels_lag(
        handle.client, handle.keys, "slack", [str(mine)], now=time.time(), scan=2
    )
    assert (lag.waiting, lag.partial) == (1, True), "looked through the oldest two only"
