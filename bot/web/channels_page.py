"""What the Channels page shows of each channel: its subscriptions, settings, next
digest, and deliveries held or dead-lettered."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import cast

from redis.asyncio import Redis

from bot.roles.scheduler import Scheduler
from bot.store.holds import DeadLetter, Hold, HoldStore, platform_of
from bot.store.keys import Keys
from bot.store.watchlist import Watchlist
from bot.web.feeds_page import feed_number
from handlers.breaking import SETTING, BreakingRule
from handlers.channels import Subscription
from handlers.ranking import RANK, RANK_TEXT
from handlers.safe_text import neutral, one_line
from handlers.styles import Style


@dataclass(frozen=True)
class SubscriptionView:
    feed_id: str
    feed: str  # title or masked address
    mode: str
    filter: str
    priority: int
    paused: bool


@dataclass(frozen=True)
class ChannelView:
    id: str
    public: str  # "public", "private" or "unknown"
    subscriptions: tuple[SubscriptionView, ...]
    schedule: str
    next_digest: str
    style: str
    quiet_message: str
    breaking: str
    rank: str
    held: Hold | None
    dead: tuple[DeadLetter, ...]


async def channel_views(
    client: Redis, keys: Keys, scheduler: Scheduler, *, retention: int, only: list[str]
) -> list[ChannelView]:
    """These channels, by id: a few round trips whatever their number."""
    channels = sorted(only)
    holds = HoldStore(client, keys, ttl=retention)
    held = await holds.holds(channels)
    dead: dict[str, list[DeadLetter]] = {}
    for platform in sorted({platform_of(c) for c in channels}):
        for letter in await holds.dead_letters(platform):
            dead.setdefault(letter.channel, []).append(letter)
    async with client.pipeline(transaction=False) as pipe:
        for channel in channels:
            pipe.hgetall(keys.channel(channel))
            pipe.hvals(keys.channel_subs(channel))
        replies = await pipe.execute()
    due = await client.zmscore(keys.digests_due, channels) if channels else []
    feeds = {record.id: record for record in await Watchlist(client, keys).all()}
    views = []
    for n, channel in enumerate(channels):
        settings = cast(dict[str, str], replies[2 * n])
        subscriptions = []
        for raw in sorted(replies[2 * n + 1], key=lambda r: str(r)):
            sub = Subscription.from_json(str(raw))
            record = feeds.get(sub.feed_id)
            shown = (record.shown_title or record.shown_url) if record else sub.feed_id
            subscriptions.append(
                SubscriptionView(
                    sub.feed_id, shown, sub.mode, neutral(sub.filter), sub.priority, sub.paused
                )
            )
        subscriptions.sort(key=lambda view: feed_number(view.feed_id))
        schedule = scheduler.schedule_of(settings)
        when = due[n]
        next_digest = (
            datetime.fromtimestamp(float(when), UTC)
            .astimezone(schedule.tz)
            .strftime("%a %d %b %H:%M %Z")
            if when is not None
            else "none scheduled"
        )
        style = Style.of(settings)
        rule = BreakingRule.parse(settings.get(SETTING))
        views.append(
            ChannelView(
                id=channel,
                public={"1": "public", "0": "private"}.get(settings.get("public", ""), "unknown"),
                subscriptions=tuple(subscriptions),
                schedule=schedule.describe(),
                next_digest=next_digest,
                style=f"template {style.template}" if style.template else style.name,
                quiet_message=neutral(one_line(settings.get("quiet_message", ""))),
                breaking=rule.describe() if rule else "off",
                rank=RANK_TEXT.get(settings.get(RANK, ""), "default"),
                held=held.get(channel),
                dead=tuple(dead.get(channel, ())),
            )
        )
    return views
