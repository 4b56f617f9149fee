"""Permissions in a channel, read through REST: which the bot lacks, who can view it.

Discord's 403 says only "Missing Access" or "Missing Permissions". To tell a member which
permission to grant, this computes the bot's permissions in the channel the way Discord
does (Discord docs, "Permission Overwrites"): the @everyone role and the bot's roles, then
the channel's overwrites for @everyone, for those roles, and for the bot itself.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import aiohttp
import discord

from bot.platforms.discord_adapter.connection import NEEDED_PERMISSIONS, missing_from
from handlers.channels import ChannelRef

log = logging.getLogger(__name__)

ADMINISTRATOR = 1 << 3
VIEW_CHANNEL = NEEDED_PERMISSIONS["View Channel"]
ALL = (1 << 53) - 1
# Said when the permissions cannot be read.
UNKNOWN = list(NEEDED_PERMISSIONS)


def effective(
    *,
    guild_id: int,
    owner_id: int,
    member_id: int,
    member_roles: set[int],
    role_permissions: dict[int, int],
    overwrites: list[dict[str, str | int]],
) -> int:
    """A member's permissions in a channel, from the guild's roles and the overwrites."""
    if member_id == owner_id:
        return ALL
    base = role_permissions.get(guild_id, 0)
    for role in member_roles:
        base |= role_permissions.get(role, 0)
    if base & ADMINISTRATOR:
        return ALL
    by_id = {int(o["id"]): (int(o["allow"]), int(o["deny"])) for o in overwrites}
    allow, deny = by_id.get(guild_id, (0, 0))
    base = (base & ~deny) | allow
    allow = deny = 0
    for role in member_roles:
        role_allow, role_deny = by_id.get(role, (0, 0))
        allow |= role_allow
        deny |= role_deny
    base = (base & ~deny) | allow
    allow, deny = by_id.get(member_id, (0, 0))
    return (base & ~deny) | allow


async def missing_permissions(client: discord.Client, channel_id: int) -> list[str]:
    """The needed permissions the bot lacks in the channel (all of them if unreadable)."""
    http = client.http
    try:
        channel: dict[str, Any] = dict(await http.get_channel(channel_id))
    except discord.Forbidden:
        return ["View Channel"]  # it cannot even see the channel
    except (discord.HTTPException, aiohttp.ClientError, TimeoutError) as exc:
        log.info("cannot read the channel's permissions", extra={"error": str(exc)})
        return UNKNOWN
    guild_id = int(channel.get("guild_id") or 0)
    if not guild_id or client.user is None:
        return UNKNOWN
    try:
        guild = await http.get_guild(guild_id)
        member = await http.get_member(guild_id, client.user.id)
    except (discord.HTTPException, aiohttp.ClientError, TimeoutError) as exc:
        log.info("cannot read the bot's roles", extra={"error": str(exc)})
        return UNKNOWN
    permissions = member_permissions(dict(guild), channel, client.user.id, dict(member))
    return missing_from(permissions) or UNKNOWN


def member_permissions(
    guild: dict[str, Any], channel: dict[str, Any], member_id: int, member: dict[str, Any]
) -> int:
    """A member's permissions in a channel, from the REST payloads of the guild, the
    channel and the member."""
    return effective(
        guild_id=int(guild["id"]),
        owner_id=int(guild.get("owner_id") or 0),
        member_id=member_id,
        member_roles={int(r) for r in member.get("roles", [])},
        role_permissions={int(r["id"]): int(r["permissions"]) for r in guild.get("roles", [])},
        overwrites=list(channel.get("permission_overwrites") or []),
    )


class DiscordMembers:
    """Who can view a channel, by each member's permissions there (`MemberLister`)."""

    platform = "discord"

    def __init__(self, client: discord.Client) -> None:
        self._client = client

    async def members(self, channel: ChannelRef, users: Sequence[str]) -> set[str] | None:
        http = self._client.http
        if self._client.user is None:
            return None  # not logged in yet: Discord could not be reached
        try:
            info: dict[str, Any] = dict(await http.get_channel(int(channel.channel)))
            guild_id = int(info.get("guild_id") or 0)
            guild: dict[str, Any] = dict(await http.get_guild(guild_id))
        except (discord.HTTPException, aiohttp.ClientError, TimeoutError, ValueError) as exc:
            log.info("cannot read a channel's permissions", extra={"error": str(exc)})
            return None
        found = set()
        for user in users:
            try:
                member = await http.get_member(guild_id, int(user))
            except discord.NotFound:
                continue  # they left the server
            except (discord.HTTPException, aiohttp.ClientError, TimeoutError) as exc:
                log.info("cannot read a member's roles", extra={"error": str(exc)})
                return None
            permissions = member_permissions(guild, info, int(user), dict(member))
            if permissions & VIEW_CHANNEL:
                found.add(user)
        return found
