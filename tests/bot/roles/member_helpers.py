"""Alerts and member records, for the tests of the member refreshers."""

from __future__ import annotations

from bot.store.alerts import AlertStore
from bot.store.connection import RedisHandle
from handlers.channels import ChannelRef


async def personal_alert(handle: RedisHandle, where: ChannelRef, user: str) -> None:
    await AlertStore(handle.client, handle.keys).add(
        origin=where, user=user, query="storm", channel=None, limit=25, now=0
    )


async def members(handle: RedisHandle, where: ChannelRef) -> set[str]:
    return set(await handle.client.hkeys(handle.keys.channel_members(str(where))))
