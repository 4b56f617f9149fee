"""Posting outbox deliveries to Discord channels and DMs, through REST only.

Every `chat` process posts, whether or not it holds the gateway: it sends through a
partial messageable (a channel id, never the gateway's cache), so a cold cache or a shard
reconnecting drops nothing. Each message carries ``nonce`` and ``enforce_nonce`` made from
the delivery id and part number (25 characters), so a retried send within the few
minutes Discord honours the nonce returns the first message instead of posting twice.

Refusals become `DeliveryFailed`:

- 403 Missing Access / Missing Permissions and 404 Unknown Channel are permanent for the
  channel; the member who subscribed it is told once, by DM, which permission to grant.
- a 429 (discord.py waits out short ones itself; longer ones become `RateLimited`), a 5xx
  (after discord.py's own retries) and connection errors pass: the delivery stays queued.
- 401: the token is refused. Nothing is posted until it works again (checked once a
  minute); every delivery stays queued and /healthz says so.

DMs are ``discord:dm:{user id}`` deliveries (alerts and notices). A member who closed
their DMs (50007) is recorded in ``dm_closed:discord``, the delivery dropped, and their
alerts paused until `alert resume`; they are told once, in the channel where they made
their newest alert.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import aiohttp
import discord
from discord.http import Route
from redis.asyncio import Redis

from bot.platforms.discord_adapter.connection import DiscordTokenRefused
from bot.platforms.discord_adapter.permissions import missing_permissions
from bot.render.discord_embeds import render_discord, render_discord_alert, render_discord_text
from bot.roles.outbox import DeliveryFailed
from bot.roles.outbox_contents import message_contents
from bot.roles.outbox_parts import send_parts
from bot.store.alerts import AlertStore
from bot.store.audience import AudienceStore
from bot.store.keys import Keys
from bot.store.pacing import ChannelPacer
from bot.store.subscriptions import subscriber_to_tell
from handlers.alerts import AlertMessage
from handlers.channels import ChannelRef

log = logging.getLogger(__name__)

DM_WORKSPACE = "dm"
MISSING_ACCESS = 50001
MISSING_PERMISSIONS = 50013
UNKNOWN_CHANNEL = 10003
DMS_CLOSED = 50007
NONCE_LENGTH = 25
TOKEN_RECHECK = 60.0
UNAUTHORIZED = "401 Unauthorized"
DEFAULT_RETRY = 5.0


def nonce(delivery: str, part: int) -> str:
    """The nonce of one part of a delivery: the same on every retry, 25 characters."""
    return hashlib.sha256(f"{delivery}#{part}".encode()).hexdigest()[:NONCE_LENGTH]


def dm_channel(user: str) -> ChannelRef:
    """Where a DM to a Discord user is queued."""
    return ChannelRef("discord", DM_WORKSPACE, user)


def _embeds(payload: dict[str, Any]) -> list[discord.Embed]:
    return [discord.Embed.from_dict(e) for e in payload.get("embeds") or []]


class DiscordDeliverer:
    """The `chat` role's deliverer for ``discord:`` channels."""

    platform = "discord"

    def __init__(
        self,
        *,
        rest: discord.Client,
        login: Callable[[], Awaitable[None]],
        client: Redis,
        keys: Keys,
        pacer: ChannelPacer | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._rest = rest
        self._login = login
        self._client = client
        self._keys = keys
        self._pacer = pacer or ChannelPacer(client, keys)
        self._audiences = AudienceStore(client, keys)
        self._clock = clock
        self.token_error = ""  # set while Discord refuses the token
        self._token_checked = 0.0

    def token_works(self) -> bool:
        """False while Discord refuses the token (for /healthz)."""
        return not self.token_error

    async def deliver(self, message: Mapping[str, str]) -> None:
        await self._check_token()
        channel = ChannelRef.parse(message["channel"])
        contents = await message_contents(
            self._client, self._keys, message, audiences=self._audiences
        )
        if contents is None:
            return
        if isinstance(contents, str):
            payloads = [render_discord_text(contents)]
        elif isinstance(contents, AlertMessage):
            payloads = render_discord_alert(contents)
        else:
            payloads = render_discord(contents)
        delivery = message.get("delivery", "")

        async def send(number: int, payload: dict[str, Any]) -> None:
            await self._send(channel, payload, nonce(delivery, number))

        await send_parts(
            self._client,
            self._keys,
            message,
            payloads,
            send=send,
            pace=lambda: self._pacer.wait(str(channel)),
        )

    async def _send(self, channel: ChannelRef, payload: dict[str, Any], key: str) -> None:
        try:
            if channel.workspace == DM_WORKSPACE:
                target: discord.abc.Messageable = await self._rest.create_dm(
                    discord.Object(int(channel.channel))
                )
            else:
                target = self._rest.get_partial_messageable(
                    int(channel.channel), guild_id=int(channel.workspace)
                )
            await target.send(
                content=payload.get("content") or None,
                embeds=_embeds(payload),
                allowed_mentions=discord.AllowedMentions.none(),
                nonce=key,
            )
        except discord.HTTPException as exc:
            refusal = await self._refusal(channel, exc)
            raise refusal from exc
        except discord.RateLimited as exc:
            raise DeliveryFailed(
                f"Discord rate limit for {exc.retry_after:.0f} s", retry_after=exc.retry_after
            ) from exc
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            raise DeliveryFailed(f"cannot reach Discord: {exc!r}") from exc

    async def _refusal(self, channel: ChannelRef, exc: discord.HTTPException) -> DeliveryFailed:
        if exc.status == 401:
            self.token_error = UNAUTHORIZED
            self._token_checked = self._clock()
            log.error("Discord refuses the bot token; deliveries wait until it works")
            return DeliveryFailed("Discord refuses the token", retry_after=TOKEN_RECHECK)
        if exc.code == DMS_CLOSED or (channel.workspace == DM_WORKSPACE and exc.status == 403):
            await self._dms_closed(channel.channel)
            return DeliveryFailed(
                f"{exc.code}: the member does not accept DMs from the bot", permanent=True
            )
        if exc.code in (MISSING_ACCESS, MISSING_PERMISSIONS):
            missing = await missing_permissions(self._rest, int(channel.channel))
            reason = f"{exc.code} {exc.text or 'Missing Permissions'}: grant newsbot " + (
                ", ".join(missing)
            )
            await self._tell_subscriber(channel, missing)
            return DeliveryFailed(reason, permanent=True)
        if exc.code == UNKNOWN_CHANNEL or exc.status == 404:
            return DeliveryFailed(
                f"{exc.code} Unknown Channel: the channel is gone, or the bot was removed",
                permanent=True,
            )
        retry_after = None
        if exc.status == 429:
            retry_after = _retry_after(exc)
        return DeliveryFailed(
            f"Discord answered {exc.status} {exc.text or 'error'}"[:300], retry_after=retry_after
        )

    async def _tell_subscriber(self, channel: ChannelRef, missing: list[str]) -> None:
        """DM the member who subscribed the channel, once until it works again."""
        user = await subscriber_to_tell(self._client, self._keys, channel, is_person=str.isdigit)
        if user is None:
            return
        note = (
            f"newsbot cannot post in <#{channel.channel}>: it needs the "
            f"{', '.join(missing)} permission{'s' if len(missing) > 1 else ''} there. "
            "Grant them to newsbot (channel settings → Permissions), or unsubscribe the "
            "channel; its digests and stories wait until then."
        )
        try:
            await self.direct_message(user, note)
        except discord.HTTPException as exc:
            log.warning(
                "could not tell the subscriber that a channel refuses",
                extra={"channel": str(channel), "user": user, "error": str(exc)},
            )

    async def _dms_closed(self, user: str) -> None:
        """Pause the member's alerts and tell them once, where they made their newest alert."""
        store = AlertStore(self._client, self._keys)
        origin = await store.dms_closed(self.platform, user, time.time())
        if origin is None:
            return
        where = ChannelRef.parse(origin)
        note = (
            f"<@{user}> newsbot cannot send you direct messages, so your alerts are paused. "
            "Allow direct messages from server members (this server's Privacy Settings), "
            "then run /news alert resume."
        )
        try:
            target = self._rest.get_partial_messageable(
                int(where.channel), guild_id=int(where.workspace)
            )
            # The member is named, not pinged: the one allowed mention Discord's spec takes
            # is a string id, which discord.py does not send.
            await target.send(content=note, allowed_mentions=discord.AllowedMentions.none())
        except (discord.HTTPException, ValueError) as exc:
            log.warning(
                "could not tell a member that their DMs are closed",
                extra={"user": user, "channel": origin, "error": str(exc)},
            )

    async def direct_message(self, user: str, text: str) -> None:
        """A DM to a member (create DM, then send); raises `discord.HTTPException`."""
        dm = await self._rest.create_dm(discord.Object(int(user)))
        await dm.send(content=text, allowed_mentions=discord.AllowedMentions.none())

    async def _check_token(self) -> None:
        """Log in first if Discord was unreachable at start. While the token is refused,
        post nothing, and look again once a minute."""
        if self.token_error and self._clock() - self._token_checked < TOKEN_RECHECK:
            raise DeliveryFailed("Discord refuses the token", retry_after=TOKEN_RECHECK)
        if self._rest.user is not None and not self.token_error:
            return
        self._token_checked = self._clock()
        try:
            if self._rest.user is None:
                await self._login()
            else:
                await self._rest.http.request(Route("GET", "/users/@me"))
        except (DiscordTokenRefused, discord.HTTPException) as exc:
            if isinstance(exc, discord.HTTPException) and exc.status != 401:
                raise DeliveryFailed(f"Discord answered {exc.status}") from exc
            self.token_error = UNAUTHORIZED
            raise DeliveryFailed("Discord refuses the token", retry_after=TOKEN_RECHECK) from exc
        except (aiohttp.ClientError, OSError) as exc:
            raise DeliveryFailed(f"cannot reach Discord: {exc!r}") from exc
        if self.token_error:
            log.info("Discord accepts the bot token again")
        self.token_error = ""


def _retry_after(exc: discord.HTTPException) -> float:
    """The wait a 429 asks for: its JSON ``retry_after``, else its Retry-After header."""
    response = exc.response
    header = response.headers.get("Retry-After") if response is not None else None
    try:
        return float(header) if header else DEFAULT_RETRY
    except ValueError:
        return DEFAULT_RETRY
