"""discord.py set up for newsbot: where it connects, and the clients it uses.

`NEWSBOT_DISCORD_API_URL` sets discord.py's REST base (``Route.BASE``, without a trailing
slash, or every path gets ``//``) and `NEWSBOT_DISCORD_GATEWAY_URL` its gateway (a
``yarl.URL``: a plain string crashes ``connect()``). Both are class attributes of
discord.py, so one process talks to one Discord.

Every client sends ``allowed_mentions`` with nothing parsed on every message, follow-up
and edit, and gives up on a rate limit longer than 30 s (discord.py's minimum) by raising
`discord.RateLimited`, so the outbox holds that channel instead of a send blocking.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator

import aiohttp
import discord
import yarl
from discord.gateway import DiscordWebSocket
from discord.http import Route

from bot.errors import NewsbotError
from bot.settings import Settings

log = logging.getLogger(__name__)

# discord.py's smallest allowed value; a longer 429 becomes `discord.RateLimited`.
MAX_RATELIMIT_WAIT = 30.0
# What the bot needs in a channel, by permission bit (Discord docs, "Permissions").
NEEDED_PERMISSIONS = {"View Channel": 1 << 10, "Send Messages": 1 << 11, "Embed Links": 1 << 14}
SCOPES = ("bot", "applications.commands")


class DiscordTokenRefused(NewsbotError):
    """Discord does not accept DISCORD_TOKEN."""


def point_at(settings: Settings) -> None:
    """Aim discord.py at the configured REST base and gateway."""
    Route.BASE = settings.discord_api_url.rstrip("/")
    if settings.discord_gateway_url:
        DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(settings.discord_gateway_url)


def token(settings: Settings) -> str:
    if settings.discord_token is None:
        raise ValueError("DISCORD_TOKEN is not set")
    return settings.discord_token.reveal()


def new_client(settings: Settings) -> discord.Client:
    """A client for the gateway (`AutoShardedClient` with more than one shard) or REST."""
    point_at(settings)
    intents = discord.Intents.none()
    intents.guilds = True  # interactions arrive whatever the intents; guilds name them
    mentions = discord.AllowedMentions.none()
    if settings.discord_shards > 1:
        return discord.AutoShardedClient(
            shard_count=settings.discord_shards,
            intents=intents,
            allowed_mentions=mentions,
            max_ratelimit_timeout=MAX_RATELIMIT_WAIT,
        )
    return discord.Client(
        intents=intents, allowed_mentions=mentions, max_ratelimit_timeout=MAX_RATELIMIT_WAIT
    )


@contextlib.asynccontextmanager
async def rest_client(settings: Settings) -> AsyncIterator[discord.Client]:
    """A client for REST only (no gateway): every `chat` process posts with it.

    It logs in at once; a refused token is a configuration error. When Discord cannot be
    reached yet, it logs in later, before its first post (`log_in`)."""
    client = new_client(settings)
    try:
        await log_in(client, settings)
    except (aiohttp.ClientError, OSError) as exc:
        log.warning("cannot reach Discord yet; posting waits", extra={"error": repr(exc)})
    except BaseException:
        await client.close()
        raise
    try:
        yield client
    finally:
        await client.close()


async def log_in(client: discord.Client, settings: Settings) -> None:
    """Log the client in (``/users/@me``, ``/oauth2/applications/@me``) unless it is."""
    if client.user is not None:
        return
    try:
        await client.login(token(settings))
    except discord.LoginFailure as exc:
        raise DiscordTokenRefused(f"Discord refuses DISCORD_TOKEN: {exc}") from exc
    except (aiohttp.ClientError, OSError):
        await client.http.close()  # the next try opens a new session
        raise


def invite_url(application_id: int) -> str:
    """The URL that adds the bot to a server with exactly the scopes and permissions used."""
    permissions = sum(NEEDED_PERMISSIONS.values())
    return (
        f"https://discord.com/oauth2/authorize?client_id={application_id}"
        f"&scope={'+'.join(SCOPES)}&permissions={permissions}"
    )


def missing_from(permissions: int) -> list[str]:
    """The needed permissions that a permission value lacks, by name."""
    return [name for name, bit in NEEDED_PERMISSIONS.items() if not permissions & bit]
