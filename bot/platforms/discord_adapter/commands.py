"""`/news` on Discord: an app command group whose options are joined back into the
command text, so the core's one grammar serves every platform.

Every answer goes to the person who asked, ephemeral. Anything that can be slow (a
subscribe fetches for up to 30 s, a digest, a summary, Redis) is deferred first, well
inside Discord's 3 s, then finished with a follow-up. An interaction is answered by one
process only: its id is claimed in Redis (``discord:interaction:{id}``) before anything
is sent, so even two processes briefly holding the gateway during a takeover answer once.

Who manages a channel is Manage Channels there, read from the interaction's
``member.permissions`` (Discord resolves it for that channel), checked on the server side:
`/news` sets no ``default_member_permissions``, which would hide search from members.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import replace
from typing import Any, Literal, cast

import discord
from discord import app_commands
from redis.asyncio import Redis
from redis.exceptions import RedisError

from bot.commands.caller import Caller
from bot.commands.core import CommandCore
from bot.platforms.discord_adapter.connection import missing_from
from bot.platforms.discord_adapter.deliverer import DM_WORKSPACE
from bot.render.discord_embeds import render_discord_reply
from bot.store.keys import Keys
from bot.store.subscriptions import SubscriptionStore
from bot.store.watchlist import Watchlist
from handlers.channels import ChannelRef
from handlers.commands import BREAKING_MINUTES, BREAKING_OUTLETS, USAGE
from handlers.reply import Reply, refusal

log = logging.getLogger(__name__)

INTERACTION_TTL = 15 * 60  # an interaction token's life
AUTOCOMPLETE_MAX = 25  # Discord shows at most 25 choices
CHOICE_NAME = 100
# Answered at once: no Redis, no network.
IMMEDIATE = frozenset({"help"})
# Commands that work outside a server channel (in a DM with the bot).
ANYWHERE = frozenset({"help", "summarize", "alert"})
# Commands whose result is posted in the channel: say so when the bot cannot post there.
POSTING = frozenset({"subscribe", "digest", "schedule", "feeds", "mode"})
NOT_HERE = (
    "/news {name} works in a server channel (it acts on that channel's feeds); "
    "run it there. In a DM, /news summarize and /news help work."
)


def command_text(name: str, *parts: str | int | None) -> str:
    """A subcommand and its options as the command text the grammar reads."""
    return " ".join([name, *(str(p).strip() for p in parts if p not in (None, ""))])


def manages_named_channel(interaction: discord.Interaction) -> bool | None:
    """Manage Channels in the channel a command names (a channel alert's), from the
    permissions Discord resolved for the member there; None when it names none."""
    data = cast(dict[str, Any], interaction.data or {})
    channels = cast(dict[str, Any], data.get("resolved", {})).get("channels", {})
    if not channels:
        return None
    return all(
        discord.Permissions(int(c.get("permissions") or 0)).manage_channels
        for c in channels.values()
    )


def everyone_sees(interaction: discord.Interaction) -> bool | None:
    """Can @everyone view the channel (from the gateway's cache)? None when not cached."""
    channel, guild = interaction.channel, interaction.guild
    if interaction.guild_id is None:
        return False
    if not isinstance(channel, discord.abc.GuildChannel) or guild is None:
        return None
    return channel.permissions_for(guild.default_role).view_channel


QUERY_NAMES_A_CHANNEL = (
    "a query cannot name a channel; to post matches in a channel, choose it with the "
    "channel option of /news alert add"
)
CLAIM_TIMEOUT = 0.5  # seconds the interaction claim may take before answering anyway


class Answerer:
    """Runs one interaction through the command core and answers it once."""

    def __init__(self, *, core: CommandCore, client: Redis, keys: Keys, holder: str) -> None:
        self._core = core
        self._client = client
        self._keys = keys
        self._holder = holder

    async def claim(self, interaction: discord.Interaction) -> bool:
        """True when this process answers the interaction (no one else claimed it)."""
        key = self._keys.discord_interaction(str(interaction.id))
        claim = self._client.set(key, self._holder, nx=True, ex=INTERACTION_TTL)
        try:
            # A slow Redis must not cost the 3 s Discord gives to defer: past the timeout,
            # answer anyway (a second process answering is the lesser harm).
            return bool(await asyncio.wait_for(claim, CLAIM_TIMEOUT))
        except (RedisError, TimeoutError):
            log.warning("cannot claim a Discord interaction in Redis; answering it anyway")
            return True

    async def run(
        self, interaction: discord.Interaction, name: str, text: str, *, refuse: str = ""
    ) -> None:
        """Answer with the core's reply to `text`, or with the refusal `refuse`."""
        if not await self.claim(interaction):
            log.info("interaction answered by another process", extra={"id": interaction.id})
            return
        reply = refusal(refuse) if refuse else await self._reply(interaction, name, text)
        body = render_discord_reply(reply)
        embeds = [discord.Embed.from_dict(e) for e in body["embeds"]]
        # A one-time link must not be opened by Discord's preview (`suppress_embeds`).
        quiet = reply.suppress_previews and not embeds
        if interaction.response.is_done():
            await interaction.followup.send(
                body["content"], embeds=embeds, ephemeral=True, suppress_embeds=quiet
            )
        else:
            await interaction.response.send_message(
                body["content"], embeds=embeds, ephemeral=True, suppress_embeds=quiet
            )

    async def _reply(self, interaction: discord.Interaction, name: str, text: str) -> Reply:
        if interaction.guild_id is None and name not in ANYWHERE:
            return refusal(NOT_HERE.format(name=name))
        if name not in IMMEDIATE:
            await interaction.response.defer(ephemeral=True, thinking=True)
        channel = (
            ChannelRef("discord", str(interaction.guild_id), str(interaction.channel_id))
            if interaction.guild_id is not None
            else ChannelRef("discord", DM_WORKSPACE, str(interaction.user.id))
        )
        caller = Caller(
            channel,
            user=str(interaction.user.id),
            admin=interaction.guild_id is not None and interaction.permissions.manage_channels,
            public=everyone_sees(interaction),
            target_admin=manages_named_channel(interaction),
            # The channel option lists this server's channels only.
            target_workspace=str(interaction.guild_id) if interaction.guild_id else None,
        )
        reply = await self._core.handle(caller, text)
        if not reply.ok and name in USAGE and USAGE[name] not in reply.text:
            reply = replace(reply, text=f"{reply.text}\nUsage: {USAGE[name]}")
        missing = missing_from(interaction.app_permissions.value)
        if name in POSTING and interaction.guild_id is not None and missing:
            reply = replace(
                reply,
                text=f"{reply.text}\nNote: newsbot cannot post in this channel: it needs the "
                f"{', '.join(missing)} permission(s) here. Grant them in the channel's "
                "settings → Permissions; its digests and stories wait until then.",
            )
        return reply

    async def feed_choices(
        self, interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        """The channel's feeds whose id, title or URL contains what was typed so far."""
        if interaction.guild_id is None:
            return []
        channel = ChannelRef("discord", str(interaction.guild_id), str(interaction.channel_id))
        subs = await SubscriptionStore(self._client, self._keys).of_channel(channel)
        watchlist = Watchlist(self._client, self._keys)
        typed = current.strip().lower()
        choices = []
        for sub in subs:
            record = await watchlist.get(sub.feed_id)
            if record is None:
                continue
            label = f"{record.id} {record.shown_title or record.shown_url}"
            if typed and typed not in f"{label} {record.shown_url}".lower():
                continue
            choices.append(app_commands.Choice(name=label[:CHOICE_NAME], value=record.id))
            if len(choices) == AUTOCOMPLETE_MAX:
                break
        return choices


def news_group(answerer: Answerer) -> app_commands.Group:
    """The `/news` command group; every option named as in docs/contracts.md."""
    news = app_commands.Group(
        name="news", description="newsbot: this channel's feeds, digests and searches"
    )

    @news.command(name="subscribe", description="Follow a feed in this channel (managers)")
    @app_commands.describe(url="The feed's URL (RSS, Atom or JSON Feed)", mode="digest or instant")
    async def subscribe(
        interaction: discord.Interaction,
        url: str,
        mode: Literal["digest", "instant"] | None = None,
    ) -> None:
        await answerer.run(interaction, "subscribe", command_text("subscribe", url, mode))

    @news.command(name="unsubscribe", description="Stop following a feed here (managers)")
    @app_commands.describe(feed="The feed's id (as in /news feeds) or URL")
    async def unsubscribe(interaction: discord.Interaction, feed: str) -> None:
        await answerer.run(interaction, "unsubscribe", command_text("unsubscribe", feed))

    @unsubscribe.autocomplete("feed")
    async def unsubscribe_feed(
        interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        return await answerer.feed_choices(interaction, current)

    @news.command(name="feeds", description="This channel's feeds, their health and schedule")
    async def feeds(interaction: discord.Interaction) -> None:
        await answerer.run(interaction, "feeds", "feeds")

    @news.command(name="digest", description="Post this channel's digest now")
    async def digest(interaction: discord.Interaction) -> None:
        await answerer.run(interaction, "digest", "digest")

    @news.command(name="schedule", description="Show or set when digests post here")
    @app_commands.describe(
        when="daily 09:00, weekdays 08:30, every 4h or off", timezone="e.g. Europe/Berlin"
    )
    async def schedule(
        interaction: discord.Interaction, when: str, timezone: str | None = None
    ) -> None:
        await answerer.run(interaction, "schedule", command_text("schedule", when, timezone))

    @news.command(name="mode", description="How one feed's stories reach this channel (managers)")
    @app_commands.describe(
        feed="The feed's id (as in /news feeds) or URL", mode="digest or instant"
    )
    async def mode(
        interaction: discord.Interaction, feed: str, mode: Literal["digest", "instant"]
    ) -> None:
        await answerer.run(interaction, "mode", command_text("mode", feed, mode))

    @news.command(name="filter", description="Only stories matching a query (managers)")
    @app_commands.describe(
        feed="The feed's id (as in /news feeds) or URL",
        query='A query; "off" for none; "test <query>" to preview on the last 20 stories',
    )
    async def filter_(interaction: discord.Interaction, feed: str, query: str) -> None:
        await answerer.run(interaction, "filter", command_text("filter", feed, query))

    @news.command(name="quiet", description="What an empty digest says here (managers)")
    @app_commands.describe(message='The message; "off" for none')
    async def quiet(interaction: discord.Interaction, message: str) -> None:
        await answerer.run(interaction, "quiet", command_text("quiet", message))

    @mode.autocomplete("feed")
    @filter_.autocomplete("feed")
    async def settings_feed(
        interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        return await answerer.feed_choices(interaction, current)

    @news.command(name="breaking", description="Post big stories at once (managers)")
    @app_commands.describe(
        state="on or off (leave out to see it)",
        outlets="How many outlets carry it (default 4)",
        minutes="Within how many minutes of its first copy (default 60)",
    )
    async def breaking(
        interaction: discord.Interaction,
        state: Literal["on", "off"] | None = None,
        outlets: app_commands.Range[int, 2, 50] | None = None,
        minutes: app_commands.Range[int, 1, 1440] | None = None,
    ) -> None:
        parts: list[str | int | None] = [state]
        if state == "on" and (outlets or minutes):  # the grammar takes both, in order
            parts += [outlets or BREAKING_OUTLETS, minutes or BREAKING_MINUTES]
        await answerer.run(interaction, "breaking", command_text("breaking", *parts))

    @news.command(name="trending", description="Stories gaining the most outlets here")
    @app_commands.describe(hours="Over how many hours (1–168, default 6)")
    async def trending(
        interaction: discord.Interaction, hours: app_commands.Range[int, 1, 168] | None = None
    ) -> None:
        await answerer.run(interaction, "trending", command_text("trending", hours))

    @news.command(name="rank", description="How digests order stories here (managers)")
    @app_commands.describe(order="time, coverage or smart (leave out to see it)")
    async def rank(
        interaction: discord.Interaction,
        order: Literal["time", "coverage", "smart"] | None = None,
    ) -> None:
        await answerer.run(interaction, "rank", command_text("rank", order))

    @news.command(name="style", description="How stories look here (managers)")
    @app_commands.describe(
        style="standard, compact, headlines, template, or test to preview",
        template="With style template: e.g. {title} ({source}) {link}",
    )
    async def style(
        interaction: discord.Interaction,
        style: Literal["standard", "compact", "headlines", "template", "test"] | None = None,
        template: str | None = None,
    ) -> None:
        await answerer.run(interaction, "style", command_text("style", style, template))

    @news.command(name="latest", description="The newest stories of this channel's feeds")
    @app_commands.describe(count="How many (1–20, default 5)")
    async def latest(
        interaction: discord.Interaction, count: app_commands.Range[int, 1, 20] | None = None
    ) -> None:
        await answerer.run(interaction, "latest", command_text("latest", count))

    @news.command(name="search", description="Search stored stories of this channel's feeds")
    @app_commands.describe(query='Words, "phrases", AND/OR/NOT, title: source: author:')
    async def search(interaction: discord.Interaction, query: str) -> None:
        await answerer.run(interaction, "search", command_text("search", query))

    @news.command(name="summarize", description="A summary of one article")
    @app_commands.describe(url="The article's URL")
    async def summarize(interaction: discord.Interaction, url: str) -> None:
        await answerer.run(interaction, "summarize", command_text("summarize", url))

    @news.command(name="dashboard", description="A one-time link to newsbot's page (managers)")
    async def dashboard(interaction: discord.Interaction) -> None:
        await answerer.run(interaction, "dashboard", "dashboard")

    @news.command(name="help", description="How to use newsbot")
    async def help_(interaction: discord.Interaction) -> None:
        await answerer.run(interaction, "help", "help")

    news.add_command(alert_group(answerer))
    return news


def alert_group(answerer: Answerer) -> app_commands.Group:
    """`/news alert …`: personal keyword alerts, delivered by DM."""
    alert = app_commands.Group(name="alert", description="Personal keyword alerts, by DM")

    @alert.command(name="add", description="Alert me by DM about stories matching a query")
    @app_commands.describe(
        query='Words, "phrases", AND/OR/NOT, title: source: author:',
        channel="Post matches in this channel instead (managers)",
    )
    async def add(
        interaction: discord.Interaction,
        query: str,
        channel: discord.TextChannel | None = None,
    ) -> None:
        if "<#" in query:
            # The channel option is the only way to name one: a channel typed into the
            # query (say, of another server) is never read as the alert's target.
            await answerer.run(interaction, "alert", "", refuse=QUERY_NAMES_A_CHANNEL)
            return
        mention = f"in <#{channel.id}>" if channel is not None else None
        await answerer.run(interaction, "alert", command_text("alert add", query, mention))

    @alert.command(name="list", description="My alerts")
    async def list_(interaction: discord.Interaction) -> None:
        await answerer.run(interaction, "alert", "alert list")

    @alert.command(name="remove", description="Remove one of my alerts")
    @app_commands.describe(id="The alert's id (as in /news alert list)")
    async def remove(interaction: discord.Interaction, id: str) -> None:
        await answerer.run(interaction, "alert", command_text("alert remove", id))

    @alert.command(name="pause", description="Pause my alerts for a while")
    @app_commands.describe(duration="30m, 2h, 3d or 1w")
    async def pause(interaction: discord.Interaction, duration: str) -> None:
        await answerer.run(interaction, "alert", command_text("alert pause", duration))

    @alert.command(name="resume", description="Resume my paused alerts")
    async def resume(interaction: discord.Interaction) -> None:
        await answerer.run(interaction, "alert", "alert resume")

    return alert
