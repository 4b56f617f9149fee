"""Which channels a Slack member manages, for the managers' page, asked again on every
page: a workspace admin or owner (or a member `NEWSBOT_MANAGERS` names) manages the
workspace's channels, a private one only while a member of it (`conversations.members`).
Answers are kept a minute per member, so a page of 50 channels does not ask Slack 50
times a view."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

from redis.asyncio import Redis

from bot.platforms.slack_adapter.commands import Admins
from bot.platforms.slack_adapter.web_api import SlackMembers
from bot.store.keys import Keys
from bot.store.ui_auth import Scope
from handlers.channels import ChannelRef

REMEMBER = 60.0


class SlackPageAccess:
    def __init__(
        self,
        *,
        admins: Admins,
        members: SlackMembers,
        managers: frozenset[str],
        client: Redis,
        keys: Keys,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._admins = admins
        self._members = members
        self._managers = managers
        self._client = client
        self._keys = keys
        self._clock = clock
        self._known: dict[tuple[str, str], tuple[bool, float]] = {}

    async def __call__(self, scope: Scope, channels: Sequence[str]) -> set[str]:
        user = scope.user
        manager = "everyone" in self._managers or user in self._managers
        if not manager and not await self._admins.is_admin(scope.workspace, user):
            return set()
        async with self._client.pipeline(transaction=False) as pipe:
            for channel in channels:
                pipe.hget(self._keys.channel(channel), "public")
            flags = await pipe.execute()
        allowed = set()
        for channel, flag in zip(channels, flags, strict=True):
            if flag == "1" or await self._is_member(channel, user):
                allowed.add(channel)
        return allowed

    async def _is_member(self, channel: str, user: str) -> bool:
        """Whether `user` is in the (private, or not known to be public) channel."""
        known = self._known.get((channel, user))
        if known is not None and self._clock() - known[1] < REMEMBER:
            return known[0]
        found = await self._members.members(ChannelRef.parse(channel), [user])
        member = found is not None and user in found
        self._known[(channel, user)] = (member, self._clock())
        return member
