"""`/news` on Slack: a slack-bolt AsyncApp that answers through the command core.

Every command is acknowledged at once (Slack wants an answer within 3 s; subscribing
fetches a feed for up to 30 s), then answered through the command's `response_url`, as an
ephemeral reply to the person who asked. With escaping on (the app manifest), Slack sends
links as ``<https://…>`` or ``<https://…|label>`` and ``&``, ``<``, ``>`` as entities:
`command_text` turns that back into what the grammar reads.

Who manages a channel comes from `users.info` (workspace admins and owners), cached for a
few minutes; `NEWSBOT_MANAGERS` widens it in the core.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from typing import Any

from aiohttp import web
from slack_bolt import BoltResponse
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncBoltContext, AsyncRespond
from slack_sdk.errors import SlackApiError
from slack_sdk.signature import SignatureVerifier
from slack_sdk.web.async_client import AsyncWebClient

from bot.commands.caller import Caller
from bot.commands.core import CommandCore
from bot.platforms.slack_adapter.installs import WorkspaceGone
from bot.platforms.slack_adapter.oauth import OAuth
from bot.platforms.slack_adapter.web_api import SlackApis
from bot.render.slack_blocks import STORY_ACTIONS, render_slack_reply
from bot.store.replays import ReplayGuard
from handlers.channels import ChannelRef
from handlers.reply import refusal

log = logging.getLogger(__name__)

ADMIN_CACHE_SECONDS = 300.0
CHANNEL_CACHE_SECONDS = 300.0
# What the first, immediate answer says for commands that take a while.
WORKING = {
    "subscribe": "Subscribing… (fetching the feed)",
    "summarize": "Summarising…",
    "digest": "Building the digest…",
}
_LINK = re.compile(r"<((?:https?|mailto):[^|>]+)(?:\|[^>]*)?>")
_CHANNEL = re.compile(r"<#([A-Z0-9]+)(?:\|[^>]*)?>")


# What a member sees when Slack refuses the one bot token (bolt's own words otherwise
# speak of a lost installation).
UNAUTHORIZED_ANSWER = (
    "Slack refuses newsbot's bot token, so newsbot cannot answer here. The operator should "
    "check SLACK_BOT_TOKEN (newsbot check says what is wrong)."
)

# Commands whose result is posted in the channel: say so when the bot cannot post there.
POSTING_COMMANDS = frozenset({"subscribe", "digest", "schedule", "feeds"})
NOT_A_MEMBER = (
    "Note: newsbot is not in this channel yet. Run /invite @newsbot here: until then its "
    "stories and digests wait (held, nothing is lost), and they arrive once it joins."
)


@dataclass(frozen=True)
class ChannelFacts:
    """What `conversations.info` says of a channel: is the bot in it, is it public."""

    member: bool
    public: bool | None


class Channels:
    """`conversations.info` per channel, remembered for a few minutes."""

    def __init__(self, apis: SlackApis, *, clock: Callable[[], float] = time.monotonic):
        self._apis = apis
        self._clock = clock
        self._known: dict[str, tuple[ChannelFacts, float]] = {}

    async def facts(self, team: str, channel: str) -> ChannelFacts:
        """DMs count as member and not public; an answer Slack refuses, as member and
        unknown (a private channel the bot is not in is not found)."""
        if channel.startswith("D"):
            return ChannelFacts(member=True, public=False)
        known = self._known.get(channel)
        if known is not None and self._clock() - known[1] < CHANNEL_CACHE_SECONDS:
            return known[0]
        try:
            answer = await (await self._apis.api(team)).conversations_info(channel=channel)
        except WorkspaceGone:
            return ChannelFacts(member=True, public=None)
        except SlackApiError as exc:
            error = exc.response.get("error") if exc.response is not None else ""
            return ChannelFacts(member=error != "channel_not_found", public=None)
        info: dict[str, Any] = answer.get("channel") or {}
        private = bool(info.get("is_private") or info.get("is_im") or info.get("is_mpim"))
        facts = ChannelFacts(member=bool(info.get("is_member", True)), public=not private)
        self._known[channel] = (facts, self._clock())
        return facts


async def workspace_of(api: AsyncWebClient, channel: str) -> str:
    """The workspace a channel belongs to, as Slack tells this bot (`conversations.info`);
    "" when Slack does not show it this bot (another workspace's, or a private one)."""
    try:
        answer = await api.conversations_info(channel=channel)
    except SlackApiError:
        return ""
    info: dict[str, Any] = answer.get("channel") or {}
    return str(info.get("context_team_id") or info.get("team_id") or answer.get("team_id") or "")


def command_text(text: str) -> str:
    """Slack's escaped command text as typed: links unwrapped, entities decoded."""
    text = _LINK.sub(r"\1", text)
    text = _CHANNEL.sub(r"<#\1>", text)  # channel mentions stay, for alerts to read
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


class Admins:
    """Whether a user is a workspace admin or owner, from `users.info`, cached."""

    def __init__(self, apis: SlackApis, *, clock: Callable[[], float] = time.monotonic):
        self._apis = apis
        self._clock = clock
        self._known: dict[tuple[str, str], tuple[bool, float]] = {}

    async def is_admin(self, team: str, user: str) -> bool:
        known = self._known.get((team, user))
        if known is not None and self._clock() - known[1] < ADMIN_CACHE_SECONDS:
            return known[0]
        try:
            answer = await (await self._apis.api(team)).users_info(user=user)
        except (SlackApiError, WorkspaceGone) as exc:
            log.warning(
                "users.info failed; treating the user as a member", extra={"error": str(exc)}
            )
            return False
        profile: dict[str, Any] = answer.get("user") or {}
        admin = bool(
            profile.get("is_admin") or profile.get("is_owner") or profile.get("is_primary_owner")
        )
        self._known[(team, user)] = (admin, self._clock())
        return admin


# The channel a `/news alert add … in #channel` names (Slack sends it as <#C…|name>).
_NAMED_CHANNEL = re.compile(r"\bin\s+<#([A-Z0-9]+)(?:\|[^>]*)?>\s*$")


def build_app(
    *,
    client: AsyncWebClient,
    apis: SlackApis,
    core: CommandCore,
    signing_secret: str | None,
    admins: Admins,
    replays: ReplayGuard,
    oauth: OAuth | None = None,
) -> AsyncApp:
    """The bolt app with the `/news` command and the one event newsbot handles:
    ``member_joined_channel`` for the bot itself, which may end a channel's hold. In OAuth
    mode (`oauth`), bolt's install flow too, and each request is authorized with its
    workspace's token; `client` is bolt's own (one bot token's, or the API's address).

    An Events API callback runs once per `event_id`, in Socket Mode and HTTP mode alike:
    one handled already is acknowledged and not run again (Slack retries one it thinks
    failed; a retry of one that did fail runs, since it is marked only once handled)."""
    channels = Channels(apis)
    app = AsyncApp(
        client=client,
        signing_secret=signing_secret,
        # Socket Mode has no signatures; HTTP mode always checks them (bolt's default).
        request_verification_enabled=signing_secret is not None,
        **(
            oauth.app_options()
            if oauth is not None
            else {"user_facing_authorize_error_message": UNAUTHORIZED_ANSWER}
        ),
    )

    @app.command("/news")
    async def news(ack: AsyncAck, command: dict[str, Any], respond: AsyncRespond) -> None:
        text = command_text(str(command.get("text", "")))
        first = text.split(maxsplit=1)[0].lower() if text.strip() else "help"
        await ack(text=WORKING[first]) if first in WORKING else await ack()
        team = str(command["team_id"])
        facts = await channels.facts(team, str(command["channel_id"]))
        named = _NAMED_CHANNEL.search(text) if first == "alert" else None
        caller = Caller(
            ChannelRef("slack", team, str(command["channel_id"])),
            user=str(command["user_id"]),
            admin=await admins.is_admin(team, str(command["user_id"])),
            public=facts.public,
            target_workspace=(
                await workspace_of(await apis.api(team), named[1]) or ""
                if named is not None
                else None
            ),
        )
        reply = await core.handle(caller, text)
        if first in POSTING_COMMANDS and not facts.member:
            reply = replace(reply, text=f"{reply.text}\n{NOT_A_MEMBER}")
        body = render_slack_reply(reply)
        await respond(response_type="ephemeral", replace_original=False, **body)

    @app.action(STORY_ACTIONS)
    async def story_action(ack: AsyncAck, body: dict[str, Any], respond: AsyncRespond) -> None:
        """An action picked from a story's menu: acknowledged at once, claimed once (by its
        trigger id, across processes), answered to the member alone."""
        await ack()
        picked = (body.get("actions") or [{}])[0]
        value = str((picked.get("selected_option") or {}).get("value") or "")
        trigger = str(body.get("trigger_id") or picked.get("action_ts") or "")
        if trigger and not await replays.first_time(f"action:{trigger}"):
            log.info("a Slack action was already answered", extra={"trigger": trigger})
            return
        user = str((body.get("user") or {}).get("id") or "")
        where = str((body.get("channel") or {}).get("id") or "")
        team = str((body.get("team") or {}).get("id") or (body.get("user") or {}).get("team_id"))
        if not (user and where and team):
            refused = refusal("story actions work in the channel the story was posted in")
            await respond(
                response_type="ephemeral", replace_original=False, **render_slack_reply(refused)
            )
            return
        facts = await channels.facts(team, where)
        caller = Caller(
            ChannelRef("slack", team, where),
            user=user,
            admin=await admins.is_admin(team, user),
            public=facts.public,
        )
        reply = await core.act(caller, value)
        await respond(
            response_type="ephemeral", replace_original=False, **render_slack_reply(reply)
        )

    @app.middleware
    async def once_per_event(
        body: dict[str, Any], next: Callable[[], Awaitable[None]]
    ) -> BoltResponse | None:
        event_id = str(body.get("event_id") or "") if body.get("type") == "event_callback" else ""
        if event_id and await replays.event_handled(event_id):
            return BoltResponse(status=200, body="")  # acknowledged, not run again
        await next()
        return None

    async def handled(body: dict[str, Any]) -> None:
        """Mark an event run: Slack's retry of it is acknowledged, not run again."""
        if body.get("event_id"):
            await replays.event_done(str(body["event_id"]))

    if oauth is not None:
        oauth.listen(
            app, resumed=lambda team: core.access_restored_in("slack", team), handled=handled
        )

    @app.event("member_joined_channel")
    async def joined(
        event: dict[str, Any], body: dict[str, Any], context: AsyncBoltContext
    ) -> None:
        if event.get("user") == context.bot_user_id:  # someone else: nothing changes
            team = str(event.get("team") or context.team_id or "")
            channel = ChannelRef("slack", team, str(event.get("channel", "")))
            await core.access_restored([channel])
        await handled(body)

    return app


def events_handler(
    app: AsyncApp, *, signing_secret: str, replays: ReplayGuard
) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    """`POST /slack/events` for HTTP mode. A request must be signed and at most five
    minutes old (a malformed timestamp too gets 401, never a traceback), and is run once:
    the same signed request again gets 401 (`ReplayGuard`). Events are run once per
    `event_id` by the app itself (`build_app`)."""
    verifier = SignatureVerifier(signing_secret)

    async def slack_events(request: web.Request) -> web.StreamResponse:
        body = await request.text()
        stamp = request.headers.get("X-Slack-Request-Timestamp", "")
        signature = request.headers.get("X-Slack-Signature", "")
        try:
            signed = verifier.is_valid(body, stamp, signature)
        except (ValueError, OverflowError):
            signed = False
        if not signed:
            return web.Response(status=401, text="invalid or expired signature")
        if not await replays.first_time(f"{stamp}:{signature}"):
            log.warning("a replayed Slack request was refused", extra={"timestamp": stamp})
            return web.Response(status=401, text="replayed request")
        response = await app.async_dispatch(await to_bolt_request(request))
        return await to_aiohttp_response(response)

    return slack_events
