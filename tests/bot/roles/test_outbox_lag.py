"""A platform whose deliveries nothing sends is reported, never silent."""

from __future__ import annotations

import asyncio
import logging
import time

import pytest

from bot.roles.outbox_lag import outbox_lag, outbox_lags, watch_outboxes
from bot.store.connection import RedisHandle
from bot.store.subscriptions import SubscriptionStore
from handlers.channels import ChannelRef


async def queue(handle: RedisHandle, platform: str, n: int) -> None:
    for i in range(n):
        await handle.client.xadd(
            handle.keys.outbox(platform),
            {"delivery": f"{platform}|{i}", "channel": f"{platform}:T1:C1", "kind": "quiet"},
        )


async def test_an_outbox_nobody_drains_is_stranded(handle: RedisHandle) -> None:
    await queue(handle, "slack", 2)
    lag = await outbox_lag(handle.client, handle.keys, "slack", now=time.time() + 7200)
    assert (lag.queued, lag.deliverers, lag.stranded) == (2, 0, True)
    assert 7190 < lag.oldest_age < 7300
    assert lag.describe() == (
        "slack: 2 queued, oldest 2h, NO deliverer running (set the slack credentials)"
    )
    # A consumer that reads the outbox is a running deliverer.
    stream = handle.keys.outbox("slack")
    await handle.client.xgroup_create(stream, "delivery", id="0")
    await handle.client.xreadgroup("delivery", "host-1", {stream: ">"}, count=1)
    lag = await outbox_lag(handle.client, handle.keys, "slack", now=time.time())
    assert (lag.deliverers, lag.stranded) == (1, False)
    empty = await outbox_lags(handle.client, handle.keys, now=time.time())
    assert [(x.platform, x.queued) for x in empty] == [("slack", 2), ("discord", 0), ("console", 0)]


async def test_the_chat_role_logs_platforms_it_cannot_deliver_to(
    handle: RedisHandle, caplog: pytest.LogCaptureFixture
) -> None:
    store = SubscriptionStore(handle.client, handle.keys)
    await store.subscribe(ChannelRef("discord", "1", "2"), "f1", now=0)
    await store.subscribe(ChannelRef("console", "local", "main"), "f1", now=0)
    await queue(handle, "discord", 3)
    caplog.set_level(logging.WARNING, logger="bot.roles.outbox_lag")
    stop = asyncio.Event()
    task = asyncio.create_task(
        watch_outboxes(
            handle.client, handle.keys, stop, delivering=["console"], clock=time.time, every=0.05
        )
    )
    await asyncio.sleep(0.2)
    await queue(handle, "discord", 1)  # it grows: said again
    await asyncio.sleep(0.2)
    stop.set()
    await asyncio.wait_for(task, timeout=2)
    platforms = [r.platform for r in caplog.records]  # type: ignore[attr-defined]
    assert platforms[0] == "discord" and "no deliverer" in caplog.records[0].getMessage()
    grown = [r.queued for r in caplog.records if hasattr(r, "queued")]  # type: ignore[attr-defined]
    assert grown == [3, 4], "logged when stranded, and again only when it grew"
