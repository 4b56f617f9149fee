"""Removing the subscriptions of channels the platform has refused for too long.

A channel that refuses deliveries for good (archived, deleted, the bot removed) is marked
by the outbox, its subscriber is told once, and routing pauses it (`bot.roles.routing`).
After `NEWSBOT_REFUSED_CHANNEL_DAYS` of that, its subscriptions are removed, and the log
says which channel and which feeds. A post that works there before then ends the pause.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

from redis.asyncio import Redis
from redis.exceptions import RedisError

from bot.stopping import sleep_unless_stopped
from bot.store.keys import Keys
from bot.store.subscriptions import remove_refused

log = logging.getLogger(__name__)

EVERY = 3600.0


async def sweep_refused(client: Redis, keys: Keys, *, now: float, after: float) -> int:
    """Remove the subscriptions of channels refused for `after` seconds; how many channels."""
    removed = await remove_refused(client, keys, now=now, after=after)
    for channel, feeds in removed:
        log.warning(
            "removed the subscriptions of a channel the platform refused for too long",
            extra={"channel": channel, "feeds": ",".join(feeds), "days": round(after / 86400)},
        )
    return len(removed)


async def run_refused_cleanup(
    client: Redis,
    keys: Keys,
    stop: asyncio.Event,
    *,
    days: int,
    every: float = EVERY,
    clock: Callable[[], float] = time.time,
) -> None:
    while not stop.is_set():
        try:
            await sweep_refused(client, keys, now=clock(), after=days * 86400)
        except RedisError as exc:
            log.warning(
                "cannot reach Redis to clean up refused channels", extra={"error": str(exc)}
            )
        await sleep_unless_stopped(stop, every)
