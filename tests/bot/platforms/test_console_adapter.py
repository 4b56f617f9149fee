"""The console's deliveries: digests, notices, and alert "DMs" marked with the member."""

from __future__ import annotations

import io

from bot.platforms.console_adapter import ConsoleDeliverer
from bot.store.alerts import AlertStore, Match
from bot.store.connection import RedisHandle
from handlers.channels import ChannelRef
from tests.bot.platforms.outbox_helpers import consumer, follow, stories


async def test_an_alert_prints_as_a_dm_to_the_console_user(handle: RedisHandle) -> None:
    out = io.StringIO()
    store = AlertStore(handle.client, handle.keys)
    made = await store.add(
        origin=ChannelRef("console", "local", "main"),
        user="console",
        query="storm",
        channel=None,
        limit=25,
        now=1,
    )
    [story] = await stories(handle, ["Storm hits the coast"])
    await follow(handle, "console:local:main")
    await store.queue(made, Match(made.id, story, ("storm",)), now=1000.0)
    delivered = await consumer(
        handle, ConsoleDeliverer(handle.client, handle.keys, out=out)
    ).drain()
    assert delivered == 1
    text = out.getvalue()
    assert text.startswith("[console:dm:console] newsbot alert: a new story for a1 'storm'")
    assert "Storm hits the coast" in text and "alert a1: storm" in text
