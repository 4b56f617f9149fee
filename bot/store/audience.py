"""Who may see which feeds' copies: the sets behind `handlers.visibility`, read from Redis.

A channel's audience is its own feeds, the feeds of public channels of its workspace or
guild, and the coverage set (feeds nobody follows that the operator watches: added by the
CLI or ``newsbot.toml``, not by chat). The last two are the same for every channel of a
workspace; they are worked out once and cached in each process until
``visibility:version`` moves. Every write that changes them (a subscription made or
removed, a channel found public or private, a feed watched or dropped) bumps that version
after it, in the same pipeline, so no process renders with a set older than the data.

A personal alert made in a private channel sees that channel's feeds only while its owner
is still a member: ``chan:{channel}:members`` holds when each member was last seen there
(a command they ran in it, or the platform's member list). A record missing or older than
`MEMBER_FRESH` means not a member.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence

from redis.asyncio import Redis
from redis.typing import EncodableT, FieldT

from bot.store.alerts import Alert
from bot.store.keys import Keys
from bot.store.watchlist import CHAT
from handlers.channels import ChannelRef, Subscription
from handlers.visibility import Audience

MEMBER_FRESH = 600.0  # seconds a member record counts


class AudienceStore:
    """The audience of a channel or an alert, as feed ids (see the module docstring)."""

    def __init__(
        self, client: Redis, keys: Keys, *, clock: Callable[[], float] = time.time
    ) -> None:
        self._client = client
        self._keys = keys
        self._clock = clock
        self._version = -1
        self._shared: dict[str, frozenset[str]] = {}
        self._places: dict[str, tuple[frozenset[str], bool]] = {}  # channel: feeds, public
        self._coverage: frozenset[str] = frozenset()
        self.enabled = True  # False only for benchmarks' baselines: everything is visible

    async def _refresh(self, version: int | None = None) -> None:
        if version is None:
            version = int(await self._client.get(self._keys.visibility_version) or 0)
        if version == self._version:
            return
        self._shared = {}
        self._places = {}
        self._coverage = await self._read_coverage()
        self._version = version

    async def _read_coverage(self) -> frozenset[str]:
        feed_ids = [str(f) for f in await self._client.hvals(self._keys.feeds_by_url)]
        async with self._client.pipeline(transaction=False) as pipe:
            for feed_id in feed_ids:
                pipe.exists(self._keys.feed_subs(feed_id))
                pipe.hget(self._keys.feed(feed_id), "origin")
            rows = await pipe.execute()
        return frozenset(
            feed_id
            for feed_id, followed, origin in zip(feed_ids, rows[::2], rows[1::2], strict=True)
            if not followed and origin != CHAT
        )

    async def shared(
        self, platform: str, workspace: str, *, version: int | None = None
    ) -> frozenset[str]:
        """Feeds every channel of the workspace sees: its public channels' and coverage
        (cached while ``visibility:version`` is `version`, read now when not given)."""
        await self._refresh(version)
        name = f"{platform}:{workspace}"
        found = self._shared.get(name)
        if found is None:
            found = self._shared[name] = self._coverage | await self._public_feeds(name)
        return found

    async def _public_feeds(self, workspace: str) -> frozenset[str]:
        channels = [
            str(c)
            for c in await self._client.smembers(self._keys.channels)
            if str(c).startswith(workspace + ":")
        ]
        async with self._client.pipeline(transaction=False) as pipe:
            for channel in channels:
                pipe.hget(self._keys.channel(channel), "public")
            flags = await pipe.execute()
        public = [c for c, flag in zip(channels, flags, strict=True) if flag == "1"]
        return frozenset(await self._feeds_of(public))

    async def _feeds_of(self, channels: Iterable[str]) -> set[str]:
        async with self._client.pipeline(transaction=False) as pipe:
            for channel in channels:
                pipe.hkeys(self._keys.channel_subs(channel))
            rows = await pipe.execute()
        return {str(feed) for row in rows for feed in row}

    async def for_channel(self, channel: ChannelRef) -> Audience:
        """What a post, digest or answer in `channel` may show."""
        audience, _subscriptions = await self.with_subscriptions(channel)
        return audience

    async def with_subscriptions(self, channel: ChannelRef) -> tuple[Audience, list[Subscription]]:
        """The channel's audience and its subscriptions, read in one round trip (the
        scheduler needs both for every digest)."""
        async with self._client.pipeline(transaction=False) as pipe:
            pipe.get(self._keys.visibility_version)
            pipe.hgetall(self._keys.channel_subs(str(channel)))
            version, rows = await pipe.execute()
        subscriptions = [Subscription.from_json(str(v)) for v in rows.values()]
        if not self.enabled:
            return Audience(everything=True), subscriptions
        own = frozenset(s.feed_id for s in subscriptions)
        shared = await self.shared(channel.platform, channel.workspace, version=int(version or 0))
        return Audience(own, own | shared), subscriptions

    async def for_alerts(self, alerts: Sequence[Alert]) -> dict[str, Audience]:
        """Each alert's audience: its channel's for a channel alert; for a personal one,
        its workspace's shared feeds, plus the channel it was made in while its owner is
        a member there (or it is public). Thousands of alerts made in a few channels cost
        a few commands: channels are read once per visibility version, members once per
        call."""
        if not self.enabled:
            return {a.id: Audience(everything=True) for a in alerts}
        version = int(await self._client.get(self._keys.visibility_version) or 0)
        await self._refresh(version)
        places = sorted({a.channel or a.origin for a in alerts} - self._places.keys())
        if places:
            async with self._client.pipeline(transaction=False) as pipe:
                for place in places:
                    pipe.hkeys(self._keys.channel_subs(place))
                    pipe.hget(self._keys.channel(place), "public")
                rows = await pipe.execute()
            for n, place in enumerate(places):
                feeds, public = rows[2 * n], rows[2 * n + 1]
                self._places[place] = (frozenset(str(f) for f in feeds), public == "1")
        members = await self._members_of(
            [a for a in alerts if not a.channel and not self._places[a.origin][1]]
        )
        made: dict[tuple[str, bool], Audience] = {}
        audiences = {}
        for alert in alerts:
            place = alert.channel or alert.origin
            own, public = self._places[place]
            counts = bool(alert.channel) or public or (place, alert.user) in members
            audience = made.get((place, counts))
            if audience is None:
                shared = await self.shared(alert.platform, alert.workspace, version=version)
                seen = own if counts else frozenset()
                audience = made[place, counts] = Audience(seen, seen | shared)
            audiences[alert.id] = audience
        return audiences

    async def _members_of(self, alerts: Sequence[Alert]) -> set[tuple[str, str]]:
        """(channel, owner) of these personal alerts whose owner is a member now."""
        users: dict[str, set[str]] = {}
        for alert in alerts:
            users.setdefault(alert.origin, set()).add(alert.user)
        if not users:
            return set()
        asked = {place: sorted(owners) for place, owners in users.items()}
        async with self._client.pipeline(transaction=False) as pipe:
            for place, owners in asked.items():
                pipe.hmget(self._keys.channel_members(place), owners)
            rows = await pipe.execute()
        now = self._clock()
        return {
            (place, user)
            for (place, owners), seen in zip(asked.items(), rows, strict=True)
            for user, when in zip(owners, seen, strict=True)
            if when is not None and now - float(when) < MEMBER_FRESH
        }

    async def record_members(self, channel: ChannelRef, users: Iterable[str]) -> None:
        """The platform says these users are members of `channel` now."""
        stamp = str(int(self._clock()))
        mapping: dict[FieldT, EncodableT] = dict.fromkeys(users, stamp)
        if mapping:
            key = self._keys.channel_members(str(channel))
            async with self._client.pipeline(transaction=False) as pipe:
                pipe.hset(key, mapping=mapping)
                pipe.expire(key, int(MEMBER_FRESH * 6))
                await pipe.execute()

    async def forget_member(self, channel: ChannelRef, user: str) -> None:
        """The platform says `user` left `channel`."""
        await self._client.hdel(self._keys.channel_members(str(channel)), user)
