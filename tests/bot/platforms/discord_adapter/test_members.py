"""Member records of private Discord channels: those whose permissions let them view it."""

from __future__ import annotations

from pathlib import Path

from bot.platforms.discord_adapter.connection import rest_client
from bot.platforms.discord_adapter.permissions import DiscordMembers
from bot.roles.membership import refresh_members
from bot.settings import Settings
from bot.store.connection import RedisHandle
from bot.store.subscriptions import SubscriptionStore
from handlers.channels import ChannelRef
from tests.bot.platforms.discord_adapter.conftest import discord_settings
from tests.bot.roles.member_helpers import members, personal_alert
from tests.fakes.discord_api import BOT_ID, CHANNEL, GUILD, MEMBER, VIEW_CHANNEL, FakeDiscord


async def test_discord_members_are_those_who_may_view_the_channel(
    discord_api: FakeDiscord, settings: Settings, tmp_path: Path, handle: RedisHandle
) -> None:
    where = ChannelRef("discord", str(GUILD), str(CHANNEL))
    await SubscriptionStore(handle.client, handle.keys).set_visibility(where, public=False)
    outsider, gone = 700000000000000005, 700000000000000006
    for user in (MEMBER, outsider, gone):
        await personal_alert(handle, where, str(user))
    discord_api.denied[CHANNEL] = VIEW_CHANNEL  # a private channel: @everyone cannot view
    discord_api.viewers[CHANNEL] = {MEMBER, gone, BOT_ID}  # and the bot can
    discord_api.left.add(gone)
    async with rest_client(discord_settings(settings, tmp_path, discord_api)) as client:
        await refresh_members(handle.client, handle.keys, DiscordMembers(client))
    assert await members(handle, where) == {str(MEMBER)}
