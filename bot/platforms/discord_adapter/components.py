"""The actions on posted stories on Discord: components on messages, and their clicks.

A post's components are rendered as plain dicts (`bot.render.discord_embeds`): buttons
under an instant post, a "Pick a story…" select under a digest message, sent as a stopped
view (`bot.platforms.discord_adapter.views`), so every click arrives as an interaction
(type 3, through the gateway) and `ComponentAnswerer` answers it, whichever process holds
the gateway.

A click is claimed once in Redis like a command (`Answerer.claim`), deferred ephemerally
within Discord's 3 s, then answered with a follow-up to the member alone.
"""

from __future__ import annotations

import logging
from typing import Any, cast

import discord

from bot.commands.caller import Caller
from bot.commands.core import CommandCore
from bot.platforms.discord_adapter.commands import Answerer, everyone_sees
from bot.platforms.discord_adapter.views import view_of
from bot.render.discord_embeds import render_discord_reply, story_buttons
from handlers.channels import ChannelRef
from handlers.reply import refusal
from handlers.story_actions import PICK, is_story_id

log = logging.getLogger(__name__)

NOT_HERE = "story actions work in the server channel the story was posted in"


class ComponentAnswerer:
    """Answers clicks on the components of newsbot's posts."""

    def __init__(self, *, core: CommandCore, answerer: Answerer) -> None:
        self._core = core
        self._answerer = answerer

    async def handle(self, interaction: discord.Interaction) -> None:
        if interaction.type != discord.InteractionType.component:
            return
        data = cast(dict[str, Any], interaction.data or {})
        custom_id = str(data.get("custom_id") or "")
        if not custom_id.startswith("nb:"):
            return  # not newsbot's
        if not await self._answerer.claim(interaction):
            log.info("interaction answered by another process", extra={"id": interaction.id})
            return
        await interaction.response.defer(ephemeral=True, thinking=True)
        if interaction.guild_id is None:
            await self._send(interaction, render_discord_reply(refusal(NOT_HERE)), [])
            return
        caller = Caller(
            ChannelRef("discord", str(interaction.guild_id), str(interaction.channel_id)),
            user=str(interaction.user.id),
            admin=interaction.permissions.manage_channels,
            public=everyone_sees(interaction),
        )
        if custom_id == PICK:
            values = [str(v) for v in data.get("values") or []]
            story_id = values[0] if values and is_story_id(values[0]) else ""
            reply = await self._core.story(caller, story_id)
            rows = [story_buttons(reply.items[0].story_id)] if reply.items else []
            await self._send(interaction, render_discord_reply(reply), rows)
            return
        reply = await self._core.act(caller, custom_id)
        await self._send(interaction, render_discord_reply(reply), [])

    async def _send(
        self, interaction: discord.Interaction, body: dict[str, Any], rows: list[dict[str, Any]]
    ) -> None:
        embeds = [discord.Embed.from_dict(e) for e in body["embeds"]]
        extra: dict[str, Any] = {"view": view_of(rows)} if rows else {}
        await interaction.followup.send(
            body["content"],
            embeds=embeds,
            ephemeral=True,
            allowed_mentions=discord.AllowedMentions.none(),
            **extra,
        )
