"""Telling channels when a feed they follow keeps failing, and when it is back.

A feed failing for longer than `NEWSBOT_FEED_FAILING_NOTICE` (24 h by default) gets one
notice in each subscribed channel; when it next fetches fine, one more says it recovered.
The notices go through the outbox like any delivery, with ids made from the feed and the
start of the failure, so a retried poll never tells a channel twice.
"""

from __future__ import annotations

from redis.asyncio import Redis

from bot.store.forwarding import Forwarder, enqueue
from bot.store.keys import Keys
from bot.store.subscriptions import SubscriptionStore
from bot.store.watchlist import FeedRecord
from handlers.outbox_message import OutboxMessage


def _hours(seconds: float) -> str:
    hours = seconds / 3600
    return f"{hours:.0f} h" if hours < 48 else f"{hours / 24:.0f} days"


class FeedHealthNotices:
    """Queues the failing and recovered notices for a feed's channels."""

    def __init__(self, client: Redis, keys: Keys, *, after: float) -> None:
        self._client = client
        self._keys = keys
        self._after = after
        self._subscriptions = SubscriptionStore(client, keys)

    def due(self, feed: FeedRecord, *, failing_since: float, now: float) -> bool:
        """Whether a failing feed's channels should be told now (once per failure)."""
        return not feed.down_notice and now - failing_since >= self._after

    async def _tell(self, feed: FeedRecord, kind: str, text: str, since: float) -> int:
        subs = await self._subscriptions.of_feed(feed.id)
        async with self._client.pipeline(transaction=False) as pipe:
            for sub in subs:
                delivery = f"{sub.channel}|{kind}|{feed.id}|{int(since)}"
                notice = OutboxMessage.line(delivery, str(sub.channel), "notice", text)
                enqueue(pipe, self._keys, notice.fields())
            await pipe.execute()
        await Forwarder(self._client, self._keys).forward(str(sub.channel) for sub in subs)
        return len(subs)

    async def failing(
        self, feed: FeedRecord, *, failing_since: float, now: float, error: str
    ) -> int:
        name = feed.title or feed.shown_url
        text = (
            f"Feed {feed.id} ({name}) has been failing for {_hours(now - failing_since)}: "
            f"{error}. newsbot keeps retrying, less often, and will say here when it is back."
        )
        return await self._tell(feed, "feed-down", text, failing_since)

    async def recovered(self, feed: FeedRecord, *, now: float) -> int:
        name = feed.title or feed.shown_url
        down = _hours(now - feed.failing_since) if feed.failing_since else "a while"
        text = f"Feed {feed.id} ({name}) works again after {down} of failures; stories resume."
        return await self._tell(feed, "feed-up", text, feed.down_notice)
