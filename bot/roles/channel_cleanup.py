"""Removing the subscriptions of channels the platform has refused for too long, and
what a Slack workspace that uninstalled newsbot left behind.

A channel the platform refuses (archived, deleted, the bot removed, a permission missing)
is held by the outbox (`bot.store.holds`): its deliveries wait, and its subscriber is told
once. After `NEWSBOT_REFUSED_CHANNEL_DAYS` of that, its subscriptions are removed with
what it held, and the log says which channel and which feeds. A probe that works there
before then releases the hold.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

from redis.asyncio import Redis
from redis.exceptions import RedisError

from bot.stopping import sleep_unless_stopped
from bot.store.alerts import AlertStore
from bot.store.holds import HoldStore
from bot.store.keys import Keys
from bot.store.subscriptions import prune_channels, remove_channel
from handlers.channels import PLATFORMS

log = logging.getLogger(__name__)

EVERY = 3600.0


async def sweep_refused(client: Redis, keys: Keys, *, now: float, after: float) -> int:
    """Remove the subscriptions of channels refused for `after` seconds; how many channels."""
    holds = HoldStore(client, keys, ttl=int(after))
    removed = 0
    for channel, hold in (await holds.all_held(PLATFORMS)).items():
        if not hold.since or now - hold.since < after:
            continue
        feeds = await remove_channel(client, keys, channel)
        await holds.drop(channel)
        removed += 1
        log.warning(
            "removed the subscriptions of a channel the platform refused for too long",
            extra={
                "channel": channel,
                "feeds": ",".join(feeds),
                "days": round(after / 86400),
                "dropped": hold.waiting,
            },
        )
    return removed


async def sweep_uninstalled(client: Redis, keys: Keys, *, now: float, after: float) -> int:
    """Slack workspaces newsbot was uninstalled from `after` seconds ago and not
    reinstalled in: remove their channels' subscriptions and settings, their members'
    alerts and what was held for them; how many workspaces."""
    gone = {str(t): float(w) for t, w in (await client.hgetall(keys.slack_uninstalled)).items()}
    due = sorted(team for team, when in gone.items() if now - when >= after)
    if not due:
        return 0
    known = [str(c) for c in await client.smembers(keys.channels)]
    holds = HoldStore(client, keys, ttl=int(after))
    alerts = AlertStore(client, keys)
    every_alert = await alerts.all()
    for team in due:
        channels = sorted(c for c in known if c.startswith(f"slack:{team}:"))
        feeds: set[str] = set()
        for channel in channels:
            feeds.update(await remove_channel(client, keys, channel))
            await client.delete(keys.channel(channel))
            await holds.drop(channel)
        theirs = [a for a in every_alert if a.platform == "slack" and a.workspace == team]
        for alert in theirs:
            await alerts.remove(alert.platform, alert.user, alert.id)
        await client.hdel(keys.slack_uninstalled, team)
        log.warning(
            "removed what a Slack workspace that uninstalled newsbot left",
            extra={
                "team": team,
                "days": round(after / 86400),
                "channels": ",".join(channels),
                "feeds": ",".join(sorted(feeds)),
                "alerts": len(theirs),
            },
        )
    return len(due)


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
            await sweep_uninstalled(client, keys, now=clock(), after=days * 86400)
            pruned = await prune_channels(client, keys)
            if pruned:
                log.info("forgot channels with nothing left to deliver", extra={"channels": pruned})
        except RedisError as exc:
            log.warning(
                "cannot reach Redis to clean up refused channels", extra={"error": str(exc)}
            )
        await sleep_unless_stopped(stop, every)
