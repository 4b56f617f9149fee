"""Which channels a Discord member manages, for the managers' page, asked again on every
page: those where their permissions (read through REST, the way Discord computes them)
include View Channel and Manage Channels (or `NEWSBOT_MANAGERS` names them and they can
view it). Answers are kept a minute per member and channel."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from typing import Any

import aiohttp
import discord

from bot.platforms.discord_adapter.permissions import VIEW_CHANNEL, member_permissions
from bot.store.ui_auth import Scope
from handlers.channels import ChannelRef

log = logging.getLogger(__name__)

MANAGE_CHANNELS = 1 << 4
REMEMBER = 60.0


class DiscordPageAccess:
    def __init__(
        self,
        client: discord.Client,
        *,
        managers: frozenset[str],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._client = client
        self._managers = managers
        self._clock = clock
        self._known: dict[tuple[str, str], tuple[bool, float]] = {}

    async def __call__(self, scope: Scope, channels: Sequence[str]) -> set[str]:
        fresh = {
            c: hit[0]
            for c in channels
            if (hit := self._known.get((c, scope.user))) and self._clock() - hit[1] < REMEMBER
        }
        wanted = [c for c in channels if c not in fresh]
        if wanted:
            fresh |= await self._ask(scope, wanted)
        return {channel for channel, allowed in fresh.items() if allowed}

    async def _ask(self, scope: Scope, channels: Sequence[str]) -> dict[str, bool]:
        http = self._client.http
        named = "everyone" in self._managers or scope.user in self._managers
        try:
            guild: dict[str, Any] = dict(await http.get_guild(int(scope.workspace)))
            member: dict[str, Any] = dict(await http.get_member(guild["id"], int(scope.user)))
        except discord.NotFound:
            return dict.fromkeys(channels, False)  # they left the server
        except (discord.HTTPException, aiohttp.ClientError, TimeoutError, ValueError) as exc:
            log.info("cannot read a member's roles for the page", extra={"error": str(exc)})
            return {}
        answers = {}
        for channel in channels:
            try:
                info = dict(await http.get_channel(int(ChannelRef.parse(channel).channel)))
            except discord.NotFound:
                answers[channel] = False
                continue
            except (discord.HTTPException, aiohttp.ClientError, TimeoutError) as exc:
                log.info("cannot read a channel's permissions", extra={"error": str(exc)})
                continue
            permissions = member_permissions(guild, info, int(scope.user), member)
            answers[channel] = bool(permissions & VIEW_CHANNEL) and (
                named or bool(permissions & MANAGE_CHANNELS)
            )
            self._known[(channel, scope.user)] = (answers[channel], self._clock())
        return answers
