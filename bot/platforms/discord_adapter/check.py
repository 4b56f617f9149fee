"""What `newsbot check` says about Discord: the token, the bot, its invite URL, its guilds."""

from __future__ import annotations

import aiohttp
import discord

from bot.platforms.discord_adapter.connection import (
    NEEDED_PERMISSIONS,
    DiscordTokenRefused,
    invite_url,
    log_in,
    new_client,
)
from bot.settings import Settings

GUILDS_SHOWN = 20


async def discord_report(settings: Settings) -> tuple[bool, list[str]]:
    """(token works, lines to print), from ``/users/@me`` and the bot's guilds."""
    client = new_client(settings)
    try:
        try:
            await log_in(client, settings)
        except DiscordTokenRefused:
            return False, [
                "discord: FAILED: Discord refuses DISCORD_TOKEN (reset it in the "
                "Developer Portal, Bot page, and set the new one)"
            ]
        except (aiohttp.ClientError, OSError, TimeoutError, discord.HTTPException) as exc:
            reason = (str(exc).strip() or type(exc).__name__).splitlines()[0][:200]
            return False, [f"discord: FAILED: cannot reach {settings.discord_api_url}: {reason}"]
        user, application = client.user, client.application_id
        lines = [f"discord: ok, bot @{user} ({user.id if user else '?'})"]
        if application is not None:
            lines.append(
                "discord: invite it with (scopes bot, applications.commands; permissions "
                f"{', '.join(NEEDED_PERMISSIONS)}):\n  {invite_url(application)}"
            )
        try:
            guilds = [guild async for guild in client.fetch_guilds(limit=200)]
        except discord.HTTPException as exc:
            lines.append(f"discord: cannot list the bot's servers: {exc}")
            return True, lines
        if not guilds:
            lines.append("discord: the bot is in no server yet; open the invite URL above")
        else:
            shown = ", ".join(f"{g.name} ({g.id})" for g in guilds[:GUILDS_SHOWN])
            more = f" and {len(guilds) - GUILDS_SHOWN} more" if len(guilds) > GUILDS_SHOWN else ""
            lines.append(f"discord: in {len(guilds)} server(s): {shown}{more}")
        scope = settings.discord_guild_ids
        commands = f"to servers {', '.join(map(str, scope))} only" if scope else "globally"
        lines.append(f"discord: /news is synced {commands} by the process holding the gateway")
        return True, lines
    finally:
        await client.close()
