"""Subscriptions in Redis: which channels get which feeds, and how.

Each subscription is written twice, under the channel (to list a channel's feeds) and under
the feed (to route a feed's stories), in one pipeline. Subscribing again is harmless: it
changes the mode, filter or priority when given, and keeps the rest.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping
from typing import cast

from redis.asyncio import Redis
from redis.typing import EncodableT, FieldT

from bot.store.keys import Keys
from bot.store.visibility_version import bump_visibility
from handlers.channels import ChannelRef, Mode, Subscription

# What a member set on a channel (`/news schedule`, `/news quiet`): kept while set.
CHANNEL_SETTINGS = ("schedule", "quiet_message")

log = logging.getLogger(__name__)


class SubscriptionStore:
    """Add, change, remove and list subscriptions."""

    def __init__(self, client: Redis, keys: Keys) -> None:
        self._client = client
        self._keys = keys

    async def get(self, channel: ChannelRef, feed_id: str) -> Subscription | None:
        raw = await self._client.hget(self._keys.channel_subs(str(channel)), feed_id)
        return Subscription.from_json(str(raw)) if raw else None

    async def subscribe(
        self,
        channel: ChannelRef,
        feed_id: str,
        *,
        now: float,
        mode: Mode | None = None,
        filter: str | None = None,
        priority: int | None = None,
        added_by: str = "",
        paused: bool | None = None,
    ) -> tuple[Subscription, bool]:
        """Subscribe `channel` to the feed; return the subscription and whether it is new.
        A value left None stays as it was."""
        existing = await self.get(channel, feed_id)
        current = existing or Subscription(channel, feed_id, added_by=added_by, added_at=now)
        updated = Subscription(
            channel=channel,
            feed_id=feed_id,
            mode=mode or current.mode,
            filter=current.filter if filter is None else filter,
            priority=current.priority if priority is None else priority,
            added_by=current.added_by,
            added_at=current.added_at,
            paused=current.paused if paused is None else paused,
        )
        encoded = updated.to_json()
        async with self._client.pipeline(transaction=False) as pipe:
            pipe.sadd(self._keys.channels, str(channel))
            pipe.hset(self._keys.channel_subs(str(channel)), feed_id, encoded)
            pipe.hset(self._keys.feed_subs(feed_id), str(channel), encoded)
            if existing is None:
                bump_visibility(pipe, self._keys)
            await pipe.execute()
        return updated, existing is None

    async def unsubscribe(self, channel: ChannelRef, feed_id: str) -> bool:
        async with self._client.pipeline(transaction=False) as pipe:
            pipe.hdel(self._keys.channel_subs(str(channel)), feed_id)
            pipe.hdel(self._keys.feed_subs(feed_id), str(channel))
            bump_visibility(pipe, self._keys)
            removed, *_ = await pipe.execute()
        await self.prune_if_unused(channel)
        return bool(removed)

    async def prune_if_unused(self, channel: ChannelRef) -> bool:
        """Forget a channel with no subscriptions, settings or channel alerts left: out of
        ``channels``, its hash and pending stories deleted (its routed stories stay until
        they expire, so a new subscription posts nothing twice). True when it was."""
        name = str(channel)
        async with self._client.pipeline(transaction=False) as pipe:
            pipe.hlen(self._keys.channel_subs(name))
            pipe.hmget(self._keys.channel(name), list(CHANNEL_SETTINGS))
            pipe.hvals(self._keys.alerts)
            subs, settings, alerts = await pipe.execute()
        if subs or any(settings):
            return False
        if any(json.loads(raw).get("channel") == name for raw in alerts):
            return False
        async with self._client.pipeline(transaction=False) as pipe:
            pipe.srem(self._keys.channels, name)
            pipe.delete(self._keys.channel(name), self._keys.channel_pending(name))
            pipe.zrem(self._keys.digests_due, name)
            await pipe.execute()
        return True

    async def of_channel(self, channel: ChannelRef) -> list[Subscription]:
        rows = cast(
            dict[str, str], await self._client.hgetall(self._keys.channel_subs(str(channel)))
        )
        subs = [Subscription.from_json(v) for v in rows.values()]
        return sorted(subs, key=lambda s: int(s.feed_id[1:]) if s.feed_id[1:].isdigit() else 0)

    async def of_feed(self, feed_id: str) -> list[Subscription]:
        rows = cast(dict[str, str], await self._client.hgetall(self._keys.feed_subs(feed_id)))
        return sorted((Subscription.from_json(v) for v in rows.values()), key=lambda s: s.channel)

    async def forget_feed(self, feed_id: str) -> int:
        """Remove every subscription to a feed that is no longer watched."""
        subs = await self.of_feed(feed_id)
        async with self._client.pipeline(transaction=False) as pipe:
            for sub in subs:
                pipe.hdel(self._keys.channel_subs(str(sub.channel)), feed_id)
            pipe.delete(self._keys.feed_subs(feed_id))
            bump_visibility(pipe, self._keys)
            await pipe.execute()
        return len(subs)

    async def set_channel(
        self, channel: ChannelRef, *, schedule: str | None = None, quiet_message: str | None = None
    ) -> None:
        """Store a channel's settings; a value left None stays as it was. A changed schedule
        takes the channel off `digests:due`, so its next digest is worked out anew from the
        new schedule and none fires at the old time."""
        key = self._keys.channel(str(channel))
        if schedule is not None and await self._client.hget(key, "schedule") != schedule:
            await self._client.zrem(self._keys.digests_due, str(channel))
        values: dict[FieldT, EncodableT] = {}
        if schedule is not None:
            values["schedule"] = schedule
        if quiet_message is not None:
            values["quiet_message"] = quiet_message
        async with self._client.pipeline(transaction=False) as pipe:
            pipe.sadd(self._keys.channels, str(channel))
            if values:
                pipe.hset(key, mapping=values)
            await pipe.execute()

    async def set_options(self, channel: ChannelRef, values: Mapping[str, str | None]) -> None:
        """Set channel settings by name (None clears one). ``breaking`` also keeps the set of
        channels with breaking news on, which the pipeline reads (`bot.roles.breaking`)."""
        key = self._keys.channel(str(channel))
        async with self._client.pipeline(transaction=False) as pipe:
            pipe.sadd(self._keys.channels, str(channel))
            for name, value in values.items():
                if value is None:
                    pipe.hdel(key, name)
                else:
                    pipe.hset(key, name, value)
            if "breaking" in values:
                if values["breaking"] is None:
                    pipe.srem(self._keys.breaking_channels, str(channel))
                else:
                    pipe.sadd(self._keys.breaking_channels, str(channel))
            await pipe.execute()

    async def set_visibility(self, channel: ChannelRef, *, public: bool) -> None:
        """Record whether everyone in the workspace can see the channel (what the channels
        of its workspace may see of its feeds, `bot.store.audience`)."""
        key = self._keys.channel(str(channel))
        flag = "1" if public else "0"
        if await self._client.hget(key, "public") == flag:
            return
        async with self._client.pipeline(transaction=False) as pipe:
            pipe.hset(key, "public", flag)
            bump_visibility(pipe, self._keys)
            await pipe.execute()

    async def channel_settings(self, channel: ChannelRef) -> dict[str, str]:
        return cast(dict[str, str], await self._client.hgetall(self._keys.channel(str(channel))))


async def prune_channels(client: Redis, keys: Keys) -> int:
    """`prune_if_unused` for every known channel; how many were forgotten."""
    store = SubscriptionStore(client, keys)
    pruned = 0
    for channel in sorted(str(c) for c in await client.smembers(keys.channels)):
        pruned += await store.prune_if_unused(ChannelRef.parse(channel))
    return pruned


async def remove_channel(client: Redis, keys: Keys, channel: str) -> list[str]:
    """Remove every subscription of a channel, and its digest state; the feeds it followed."""
    ref = ChannelRef.parse(channel)
    store = SubscriptionStore(client, keys)
    feeds = [sub.feed_id for sub in await store.of_channel(ref)]
    for feed_id in feeds:
        await store.unsubscribe(ref, feed_id)
    await client.srem(keys.channels, channel)
    await client.srem(keys.breaking_channels, channel)
    await client.delete(keys.channel_pending(channel))
    await client.zrem(keys.digests_due, channel)
    return feeds


async def subscriber_of(
    client: Redis, keys: Keys, channel: ChannelRef, *, is_person: Callable[[str], bool]
) -> str | None:
    """Who to tell that a channel refuses deliveries: the member who subscribed it last
    (None when no subscription was made by a person)."""
    subs = await SubscriptionStore(client, keys).of_channel(channel)
    people = [s for s in subs if is_person(s.added_by)]
    if not people:
        log.warning("no one to tell that a channel refuses", extra={"channel": str(channel)})
        return None
    return max(people, key=lambda s: s.added_at).added_by
