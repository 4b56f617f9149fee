"""Keeping member records of private channels fresh, for the personal alerts made there.

A personal alert made in a private channel sees that channel's feeds only while its owner
is a member (`bot.store.audience`, records older than 10 minutes do not count). A command
run in the channel records its caller; this role asks the platform every few minutes who
of the alerts' owners are still members of each such channel, records those, and removes
the others' records, so a member who left stops getting that channel's stories within
minutes. A platform that cannot say (the bot was removed, an outage) leaves the records to
age out.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import Protocol

from redis.asyncio import Redis
from redis.exceptions import RedisError

from bot.stopping import sleep_unless_stopped
from bot.store.alerts import AlertStore
from bot.store.audience import AudienceStore
from bot.store.keys import Keys
from handlers.channels import ChannelRef

log = logging.getLogger(__name__)

REFRESH_EVERY = 300.0


class MemberLister(Protocol):
    """A platform's answer to "which of these users can see this channel?"."""

    platform: str

    async def members(self, channel: ChannelRef, users: Sequence[str]) -> set[str] | None:
        """Those of `users` who are members of `channel` now; None when it cannot tell."""
        ...


async def refresh_members(client: Redis, keys: Keys, lister: MemberLister) -> int:
    """Ask the platform about every private channel a personal alert was made in; how many
    member records were written."""
    owners: dict[str, set[str]] = {}
    for alert in await AlertStore(client, keys).all():
        if alert.platform == lister.platform and not alert.channel:
            owners.setdefault(alert.origin, set()).add(alert.user)
    channels = sorted(owners)
    async with client.pipeline(transaction=False) as pipe:
        for channel in channels:
            pipe.hget(keys.channel(channel), "public")
        flags = await pipe.execute()
    audiences = AudienceStore(client, keys)
    written = 0
    for channel, flag in zip(channels, flags, strict=True):
        if flag == "1":
            continue  # everyone sees a public channel's feeds anyway
        ref = ChannelRef.parse(channel)
        users = sorted(owners[channel])
        found = await lister.members(ref, users)
        if found is None:
            continue
        await audiences.record_members(ref, [u for u in users if u in found])
        for user in users:
            if user not in found:
                await audiences.forget_member(ref, user)
        written += len(found)
    return written


async def run_member_refresher(
    client: Redis,
    keys: Keys,
    lister: MemberLister,
    stop: asyncio.Event,
    *,
    every: float = REFRESH_EVERY,
) -> None:
    """Refresh member records every `every` seconds until `stop`."""
    while not stop.is_set():
        try:
            await refresh_members(client, keys, lister)
        except RedisError as exc:
            log.warning("cannot refresh channel members: Redis", extra={"error": str(exc)})
        await sleep_unless_stopped(stop, every)
