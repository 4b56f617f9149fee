"""Posting outbox deliveries to Slack channels.

`chat.postMessage` is never retried inside slack_sdk: a refusal becomes `DeliveryFailed`,
so the outbox's shared pace, its 429 hold and its refusal record apply, and a delivery
goes out once. Slack has no idempotency key: a timeout after Slack accepted a post can
still double it (the README says so).

A digest too long for one message goes out in parts (`bot.roles.outbox_parts`): a retry
after a failed part sends only the rest.

Every Slack error is classed by one table (`bot.platforms.slack_adapter.refusals`). When
the outbox holds a refusing channel (the bot is not in it, it is gone or archived), the
member who subscribed it is told once per hold: an ephemeral note in the channel, or a DM
when that fails too, saying what is held and what to do (`/invite @newsbot`). A message
Slack refuses (invalid blocks, too long) is sent once more as plain text.

With one bot token, token errors are not a channel's fault: the deliverer then stops
posting (every delivery stays queued), logs at error level, reports itself unhealthy, and
tries `auth.test` once a minute until the token works again. In OAuth mode each workspace
has its own token, so a refused token, or a workspace newsbot is no longer installed in,
holds that workspace's channels only, as a refusing channel is held; a reinstall
releases them.
"""

from __future__ import annotations

import contextlib
import logging
import re
import time
from collections.abc import Callable, Mapping
from typing import Any

from redis.asyncio import Redis
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.platforms.slack_adapter.installs import WorkspaceGone
from bot.platforms.slack_adapter.refusals import classify
from bot.platforms.slack_adapter.web_api import SlackApis
from bot.render.plain import format_contents
from bot.render.slack_blocks import escape, render_slack, render_slack_alert
from bot.render.text_limits import clip
from bot.roles.outbox_contents import message_contents
from bot.roles.outbox_parts import send_parts
from bot.roles.refusal import DeliveryFailed, Refusal
from bot.store.alerts import DM, AlertStore
from bot.store.audience import AudienceStore
from bot.store.holds import HOLD_MAX
from bot.store.keys import Keys
from bot.store.pacing import ChannelPacer
from bot.store.subscriptions import subscriber_of
from handlers.alerts import AlertMessage
from handlers.channels import ChannelRef

log = logging.getLogger(__name__)

_SLACK_USER = re.compile(r"^[UW][A-Z0-9]{2,}$")
TOKEN_RECHECK = 60.0
DEFAULT_RETRY = 5.0
# Slack truncates a message's text past 40,000 characters and asks for at most 4,000.
PLAIN_TEXT = 4000


class SlackDeliverer:
    """The `chat` role's deliverer for ``slack:`` channels."""

    platform = "slack"

    def __init__(
        self,
        *,
        apis: SlackApis,
        client: Redis,
        keys: Keys,
        pacer: ChannelPacer | None = None,
        clock: Callable[[], float] = time.monotonic,
        retention_days: int = 30,
    ) -> None:
        self._retention_days = retention_days
        self._apis = apis
        self._client = client
        self._keys = keys
        self._pacer = pacer or ChannelPacer(client, keys)
        self._audiences = AudienceStore(client, keys)
        self._clock = clock
        self.token_error = ""  # set while Slack refuses the token
        self._token_checked = 0.0
        self._teams: dict[str, str] = {}  # member -> workspace, for DMs in OAuth mode

    def token_works(self) -> bool:
        """False while Slack refuses the token (for /healthz)."""
        return not self.token_error

    async def deliver(self, message: Mapping[str, str], *, plain: bool = False) -> None:
        await self._check_token()
        channel = ChannelRef.parse(message["channel"])
        contents = await message_contents(
            self._client, self._keys, message, audiences=self._audiences
        )
        if contents is None:
            return
        team = channel.workspace
        if team == DM:
            team = await self._team_of(channel.channel)
            channel = await self._open_dm(team, channel)
        web = await self._web(team)
        if plain:
            text = clip(escape(format_contents(contents)), PLAIN_TEXT)
            payload = {"text": text, "unfurl_links": False, "unfurl_media": False}
            await self._post(web, team, channel, payload)
            return
        payloads: list[dict[str, Any]]
        if isinstance(contents, str):
            payloads = [{"text": escape(contents), "unfurl_links": False, "unfurl_media": False}]
        elif isinstance(contents, AlertMessage):
            payloads = render_slack_alert(contents)
        else:
            payloads = render_slack(contents)
        await send_parts(
            self._client,
            self._keys,
            message,
            payloads,
            send=lambda _, payload: self._post(web, team, channel, payload),
            pace=lambda: self._pacer.wait(str(channel)),
        )

    async def _web(self, team: str) -> AsyncWebClient:
        """The posting client of the channel's workspace; one newsbot is not installed in
        (OAuth mode) holds the channel, as a refusing channel is held."""
        try:
            return await self._apis.posting(team)
        except WorkspaceGone as gone:
            raise DeliveryFailed(
                f"{gone}: a workspace admin can add it again", refusal=Refusal.CHANNEL
            ) from gone

    async def _team_of(self, user: str) -> str:
        """The workspace of a member newsbot DMs (their alerts say; any, with one token)."""
        if not self._apis.many:
            return DM
        known = self._teams.get(user)
        if known is None:
            alerts = await AlertStore(self._client, self._keys).of_owner("slack", user)
            if not alerts:
                raise DeliveryFailed(f"no workspace known for member {user}", refusal=Refusal.GONE)
            known = self._teams[user] = alerts[0].workspace
        return known

    async def _open_dm(self, team: str, channel: ChannelRef) -> ChannelRef:
        """A ``slack:dm:{user}`` delivery's conversation; a member who cannot be sent DMs
        is recorded, their alerts paused, and they are told once."""
        web = await self._apis_call(team)
        try:
            opened = await web.conversations_open(users=channel.channel)
        except SlackApiError as exc:
            refusal = self._refusal(exc, team)
            if refusal.refusal.holds_channel:
                await self._dms_closed(web, channel.channel)
            raise refusal from exc
        return ChannelRef("slack", DM, str((opened.get("channel") or {}).get("id", "")))

    async def _apis_call(self, team: str) -> AsyncWebClient:
        try:
            return await self._apis.api(team)
        except WorkspaceGone as gone:
            raise DeliveryFailed(str(gone), refusal=Refusal.CHANNEL) from gone

    async def _dms_closed(self, web: AsyncWebClient, user: str) -> None:
        origin = await AlertStore(self._client, self._keys).dms_closed("slack", user, time.time())
        if origin is None:
            return
        where = ChannelRef.parse(origin).channel
        with contextlib.suppress(SlackApiError):
            await web.chat_postEphemeral(
                channel=where,
                user=user,
                text="newsbot cannot send you direct messages, so your alerts are paused. "
                "Open the newsbot app's Messages tab (or ask an admin to allow it), then run "
                "/news alert resume.",
            )

    async def _post(
        self, web: AsyncWebClient, team: str, channel: ChannelRef, payload: dict[str, Any]
    ) -> None:
        try:
            await web.chat_postMessage(channel=channel.channel, **payload)
        except SlackApiError as exc:
            raise self._refusal(exc, team) from exc

    async def tell_refused(self, channel: ChannelRef, reason: str) -> None:
        """Tell the member who subscribed the channel that it refuses, and what waits."""
        if channel.workspace == DM:
            return  # the member was told their DMs are closed (`_dms_closed`)
        try:
            web = await self._apis.api(channel.workspace)
        except WorkspaceGone:
            return  # nobody there to tell: newsbot is not installed
        user = await subscriber_of(
            self._client, self._keys, channel, is_person=lambda user: bool(_SLACK_USER.match(user))
        )
        if user is None:
            return
        note = (
            f"newsbot cannot post in <#{channel.channel}>: {escape(reason)}. "
            f"Its stories and digests are held (up to {HOLD_MAX:,} deliveries, kept "
            f"{self._retention_days} days) and go out as soon as it works: run "
            f"`/invite @newsbot` in <#{channel.channel}>, or unsubscribe the channel there."
        )
        try:
            await web.chat_postEphemeral(channel=channel.channel, user=user, text=note)
            return
        except SlackApiError:
            pass  # the bot is not in the channel: a DM then
        try:
            await self.direct_message(user, note, team=channel.workspace)
        except (SlackApiError, WorkspaceGone) as exc:
            log.warning(
                "could not tell the subscriber that a channel refuses",
                extra={"channel": str(channel), "user": user, "error": str(exc)},
            )

    async def direct_message(self, user: str, text: str, *, team: str = DM) -> None:
        """A DM to a user: `conversations.open`, then `chat.postMessage` (alerts use it too)."""
        web = await self._apis.api(team)
        opened = await web.conversations_open(users=user)
        dm = str((opened.get("channel") or {}).get("id", ""))
        await web.chat_postMessage(channel=dm, text=text, unfurl_links=False, unfurl_media=False)

    def _refusal(self, exc: SlackApiError, team: str) -> DeliveryFailed:
        response = exc.response
        error = str(response.get("error", "")) if response is not None else ""
        status = response.status_code if response is not None else 0
        refusal, meaning = classify(error)
        if refusal is Refusal.TOKEN and self._apis.many:
            # One workspace's token: that workspace's channels are held, no other's.
            self._apis.refused(team)
            log.error(
                "Slack refuses a workspace's token; its channels are held",
                extra={"team": team, "error": error},
            )
            return DeliveryFailed(
                f"Slack refuses this workspace's token ({error}): a workspace admin can "
                "add newsbot again",
                refusal=Refusal.CHANNEL,
            )
        if refusal is Refusal.TOKEN:
            self.token_error = error
            self._token_checked = self._clock()
            log.error(
                "Slack refuses the bot token; deliveries wait until it works",
                extra={"error": error},
            )
            return DeliveryFailed(
                f"Slack refuses the token: {error}", refusal=refusal, retry_after=TOKEN_RECHECK
            )
        retry_after = None
        if response is not None and status == 429:
            retry_after = float(response.headers.get("Retry-After", DEFAULT_RETRY))
        if refusal is not Refusal.TRANSIENT:
            return DeliveryFailed(f"{error}: {meaning}", refusal=refusal)
        return DeliveryFailed(
            f"Slack answered {status} {error or 'error'}", retry_after=retry_after
        )

    async def _check_token(self) -> None:
        """While the (one) token is refused, post nothing; look again once a minute."""
        if not self.token_error:
            return
        if self._clock() - self._token_checked < TOKEN_RECHECK:
            raise DeliveryFailed(
                f"Slack refuses the token: {self.token_error}",
                refusal=Refusal.TOKEN,
                retry_after=TOKEN_RECHECK,
            )
        self._token_checked = self._clock()
        try:
            await (await self._apis.api(DM)).auth_test()
        except SlackApiError as exc:
            raise self._refusal(exc, DM) from exc
        log.info("Slack accepts the bot token again", extra={"was": self.token_error})
        self.token_error = ""
