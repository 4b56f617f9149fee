"""Posting outbox deliveries to Discord channels and DMs, through REST only.

Every `chat` process posts, whether or not it holds the gateway: it sends through a
partial messageable (a channel id, never the gateway's cache), so a cold cache or a shard
reconnecting drops nothing. Each message carries ``nonce`` and ``enforce_nonce`` made from
the delivery id and part number (25 characters), so a retried send within the few
minutes Discord honours the nonce returns the first message instead of posting twice.

Refusals become `DeliveryFailed`, classed by one table
(`bot.platforms.discord_adapter.refusals`):

- 403 Missing Access / Missing Permissions, 50083 (archived thread) and 404 Unknown
  Channel hold the channel; the member who subscribed it is told once per hold, by DM,
  which permission to grant.
- 50035 Invalid Form Body and other refusals of the message itself: sent once more as
  plain text.
- a 429 (discord.py waits out short ones itself; longer ones become `RateLimited`), a 5xx
  (after discord.py's own retries) and connection errors pass: the delivery stays queued.
- 401: the token is refused. Nothing is posted until it works again (checked once a
  minute); every delivery stays queued and /healthz says so.

DMs are ``discord:dm:{user id}`` deliveries (alerts and notices). A member who closed
their DMs (50007) is recorded in ``{al}:dm_closed:discord``, the delivery dropped, and their
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
from bot.platforms.discord_adapter.refusals import (
    MISSING_ACCESS,
    MISSING_PERMISSIONS,
    classify,
)
from bot.platforms.discord_adapter.views import view_of
from bot.render.discord_embeds import render_discord, render_discord_alert, render_discord_text
from bot.render.plain import format_contents
from bot.roles.outbox_contents import message_contents
from bot.roles.outbox_parts import send_parts
from bot.roles.refusal import DeliveryFailed, Refusal
from bot.store.alerts import AlertStore
from bot.store.audience import AudienceStore
from bot.store.holds import HOLD_MAX
from bot.store.keys import Keys
from bot.store.pacing import ChannelPacer
from bot.store.subscriptions import subscriber_of
from handlers.alerts import AlertMessage
from handlers.channels import ChannelRef

log = logging.getLogger(__name__)

DM_WORKSPACE = "dm"
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
        retention_days: int = 30,
    ) -> None:
        self._retention_days = retention_days
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

    async def deliver(self, message: Mapping[str, str], *, plain: bool = False) -> None:
        await self._check_token()
        channel = ChannelRef.parse(message["channel"])
        contents = await message_contents(
            self._client, self._keys, message, audiences=self._audiences
        )
        if contents is None:
            return
        delivery = message.get("delivery", "")
        if plain:
            text = render_discord_text(format_contents(contents))
            await self._send(channel, text, nonce(f"{delivery}|plain", 0))
            return
        if isinstance(contents, str):
            payloads = [render_discord_text(contents)]
        elif isinstance(contents, AlertMessage):
            payloads = render_discord_alert(contents)
        else:
            payloads = render_discord(contents)

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
            rows = payload.get("components")
            extra: dict[str, Any] = {"view": view_of(rows)} if rows else {}
            await target.send(
                content=payload.get("content") or None,
                embeds=_embeds(payload),
                allowed_mentions=discord.AllowedMentions.none(),
                nonce=key,
                **extra,
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
        refusal, meaning = classify(exc.status, exc.code)
        if refusal is Refusal.TOKEN:
            self.token_error = UNAUTHORIZED
            self._token_checked = self._clock()
            log.error("Discord refuses the bot token; deliveries wait until it works")
            return DeliveryFailed(
                "Discord refuses the token", refusal=refusal, retry_after=TOKEN_RECHECK
            )
        if channel.workspace == DM_WORKSPACE and refusal.holds_channel:
            await self._dms_closed(channel.channel)
            return DeliveryFailed(
                f"{exc.code}: the member does not accept DMs from the bot", refusal=refusal
            )
        if exc.code in (MISSING_ACCESS, MISSING_PERMISSIONS):
            missing = await missing_permissions(self._rest, int(channel.channel))
            return DeliveryFailed(
                f"{exc.code} {exc.text or meaning}: grant newsbot {', '.join(missing)}",
                refusal=refusal,
            )
        if refusal is not Refusal.TRANSIENT:
            return DeliveryFailed(f"{exc.code} {meaning}: {exc.text}"[:300], refusal=refusal)
        retry_after = _retry_after(exc) if exc.status == 429 else None
        return DeliveryFailed(
            f"Discord answered {exc.status} {exc.text or 'error'}"[:300], retry_after=retry_after
        )

    async def tell_refused(self, channel: ChannelRef, reason: str) -> None:
        """DM the member who subscribed the channel that it refuses, and what waits."""
        if channel.workspace == DM_WORKSPACE:
            return  # the member was told their DMs are closed (`_dms_closed`)
        user = await subscriber_of(self._client, self._keys, channel, is_person=str.isdigit)
        if user is None:
            return
        note = (
            f"newsbot cannot post in <#{channel.channel}>: {reason}. Its stories and digests "
            f"are held (up to {HOLD_MAX:,} deliveries, kept {self._retention_days} days) and "
            "go out as soon as it works: grant newsbot the permissions named (channel "
            "settings → Permissions), or unsubscribe the channel."
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
            raise DeliveryFailed(
                "Discord refuses the token", refusal=Refusal.TOKEN, retry_after=TOKEN_RECHECK
            )
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
            raise DeliveryFailed(
                "Discord refuses the token", refusal=Refusal.TOKEN, retry_after=TOKEN_RECHECK
            ) from exc
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
