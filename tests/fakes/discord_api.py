"""A fake Discord on 127.0.0.1: the REST API and the gateway, for the real discord.py client.

REST answers what newsbot and discord.py call: login (``/users/@me``,
``/oauth2/applications/@me``), ``/gateway`` and ``/gateway/bot``, command sync, channel
messages, DMs, interaction callbacks and follow-ups, and what a permission check reads
(channel, guild, member). Every message body is checked against the vendor's spec
(../shared/specs/discord_openapi.json, ``MessageCreateRequest`` and the callback and
webhook schemas) and against Discord's real limits (content 2,000 characters, embed
limits); `problems` collects what failed, and every test asserts it stays empty.

The gateway speaks HELLO, IDENTIFY, READY, GUILD_CREATE, heartbeats and RESUME (events
missed while the socket was down are replayed); tests inject INTERACTION_CREATE with
`interact`, and drop the socket with `drop`. Tests script refusals: a permission denied
in a channel, 429s (with or without the ``Via`` header discord.py needs to retry), 5xx,
a member with closed DMs.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache
from typing import Any

from aiohttp import web
from jsonschema import Draft202012Validator

from tests.conftest import SHARED
from tests.fakes.loopback import LoopbackServer

SPEC = SHARED / "specs" / "discord_openapi.json"
TOKEN = "fake-discord-token"
APP_ID = 900000000000000001
BOT_ID = 900000000000000002
GUILD = 800000000000000001
CHANNEL = 810000000000000001
ADMIN = 700000000000000001
MEMBER = 700000000000000002
# Permission bits (Discord docs, "Permissions").
ADMINISTRATOR = 1 << 3
MANAGE_CHANNELS = 1 << 4
VIEW_CHANNEL = 1 << 10
SEND_MESSAGES = 1 << 11
EMBED_LINKS = 1 << 14
EVERYONE_PERMISSIONS = VIEW_CHANNEL | SEND_MESSAGES | EMBED_LINKS | (1 << 16) | (1 << 31)
# Discord's own limits, stricter than the spec's (content is 2,000, not 4,000).
CONTENT = 2000
EMBED_LIMITS = {"title": 256, "description": 4096, "footer": 2048, "author": 256}
EMBED_TOTAL = 6000
OPTION_TYPES = {str: 3, int: 4, bool: 5}


@dataclass(frozen=True)
class ChannelOption:
    """A channel option's value, and the permissions Discord resolves for the member who
    sent the interaction in that channel."""

    id: int
    permissions: int

    def resolved(self) -> dict[str, Any]:
        return {
            "id": str(self.id),
            "type": 0,
            "name": f"news-{self.id % 1000}",
            "permissions": str(self.permissions),
        }


def option_type(value: object) -> int:
    return 7 if isinstance(value, ChannelOption) else OPTION_TYPES[type(value)]


def option_value(value: object) -> object:
    return str(value.id) if isinstance(value, ChannelOption) else value


@cache
def _spec() -> dict[str, Any]:
    return dict(json.loads(SPEC.read_text()))


@cache
def _validator(schema: str) -> Draft202012Validator:
    spec = _spec()
    return Draft202012Validator(
        {"$ref": f"#/components/schemas/{schema}", "components": spec["components"]}
    )


def check_message(body: dict[str, Any], schema: str = "MessageCreateRequest") -> list[str]:
    """What is wrong with a message body, by the spec and by Discord's limits."""
    problems = [f"{schema}: {e.message}" for e in _validator(schema).iter_errors(body)]
    content = body.get("content") or ""
    if len(content) > CONTENT:
        problems.append(f"content of {len(content)} characters (at most {CONTENT})")
    total = 0
    for embed in body.get("embeds") or []:
        for name, limit in EMBED_LIMITS.items():
            value = embed.get(name)
            text = value.get("text") or value.get("name", "") if isinstance(value, dict) else value
            if text and len(text) > limit:
                problems.append(f"embed {name} of {len(text)} characters (at most {limit})")
            total += len(text or "")
        if len(embed.get("fields") or []) > 25:
            problems.append("an embed with over 25 fields")
    if total > EMBED_TOTAL:
        problems.append(f"{total} characters of embeds in one message (at most {EMBED_TOTAL})")
    if (body.get("content") or body.get("embeds")) and body.get("allowed_mentions") != {
        "parse": []
    }:
        problems.append(f"allowed_mentions is {body.get('allowed_mentions')!r}, not none")
    return problems


def snowflake(counter: itertools.count[int]) -> str:
    return str(950000000000000000 + next(counter))


@dataclass
class Sent:
    """A message the fake accepted: where, what, and with which nonce."""

    channel: str
    body: dict[str, Any]
    id: str


@dataclass
class Gateway:
    """One gateway connection, and the session it belongs to."""

    socket: web.WebSocketResponse
    session: str
    shard: tuple[int, int]


@dataclass
class FakeDiscord(LoopbackServer):
    """Answers like Discord; records every message, callback and sync."""

    token: str = TOKEN
    guilds: dict[int, str] = field(default_factory=lambda: {GUILD: "Test guild"})
    channels: dict[int, int] = field(default_factory=lambda: {CHANNEL: GUILD})
    problems: list[str] = field(default_factory=list)
    sent: list[Sent] = field(default_factory=list)
    requests: list[tuple[str, str]] = field(default_factory=list)  # method, path
    commands: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # scope -> cmds
    syncs: list[str] = field(default_factory=list)  # the scopes synced, in order
    callbacks: dict[str, dict[str, Any]] = field(default_factory=dict)  # interaction token
    followups: defaultdict[str, list[dict[str, Any]]] = field(
        default_factory=lambda: defaultdict(list)
    )  # interaction token -> follow-ups and edits of the original response
    denied: dict[int, int] = field(default_factory=dict)  # channel -> bits @everyone lacks
    # channel -> users a member overwrite lets view it (a private channel's members)
    viewers: dict[int, set[int]] = field(default_factory=dict)
    left: set[int] = field(default_factory=set)  # users no longer in the guild
    sync_delay: float = 0.0  # seconds a command sync takes (Discord rate-limits them)
    closed_dms: set[int] = field(default_factory=set)
    rate_limits: int = 0  # answer this many more message creates with 429
    rate_limit_via: bool = True  # with the Via header (discord.py then retries itself)
    retry_after: float = 0.3
    server_errors: int = 0  # answer this many more message creates with 500
    archived: set[int] = field(default_factory=set)  # archived threads (50083)
    refuse_embeds: set[int] = field(default_factory=set)  # channels answering 50035 to embeds
    revoked: bool = False
    identifies: list[tuple[int, int]] = field(default_factory=list)  # shard of each IDENTIFY
    resumes: int = 0
    gateways: list[Gateway] = field(default_factory=list)
    interactions: dict[str, dict[str, Any]] = field(default_factory=dict)  # id -> payload
    sent_at: dict[str, float] = field(default_factory=dict)  # token -> dispatched (monotonic)
    answered_at: dict[str, float] = field(default_factory=dict)  # token -> first callback
    _events: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # session -> log
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    _nonces: dict[tuple[str, str], Sent] = field(default_factory=dict)
    _dm_users: dict[int, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        super().__init__()

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api/v10"

    @property
    def gateway_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/gateway"

    def posts(self, channel: int | None = None) -> list[dict[str, Any]]:
        """Bodies of the messages accepted, in order (channel messages and DMs)."""
        return [s.body for s in self.sent if channel is None or s.channel == str(channel)]

    async def wait_posts(
        self, count: int, channel: int | None = None, timeout: float = 20.0
    ) -> list[dict[str, Any]]:
        for _ in range(int(timeout / 0.05)):
            if len(self.posts(channel)) >= count:
                return self.posts(channel)
            await asyncio.sleep(0.05)
        raise AssertionError(f"{len(self.posts(channel))} messages posted, expected {count}")

    def add_routes(self, app: web.Application) -> None:
        api = "/api/v10"
        app.router.add_get(f"{api}/users/@me", self._me)
        app.router.add_get(f"{api}/users/@me/guilds", self._my_guilds)
        app.router.add_get(f"{api}/oauth2/applications/@me", self._application)
        app.router.add_get(f"{api}/gateway", self._gateway_info)
        app.router.add_get(f"{api}/gateway/bot", self._gateway_info)
        app.router.add_put(f"{api}/applications/{{app}}/commands", self._sync)
        app.router.add_put(f"{api}/applications/{{app}}/guilds/{{guild}}/commands", self._sync)
        app.router.add_post(f"{api}/channels/{{channel}}/messages", self._create_message)
        app.router.add_get(f"{api}/channels/{{channel}}", self._channel)
        app.router.add_get(f"{api}/guilds/{{guild}}", self._guild_info)
        app.router.add_get(f"{api}/guilds/{{guild}}/members/{{user}}", self._member)
        app.router.add_post(f"{api}/users/@me/channels", self._open_dm)
        app.router.add_post(f"{api}/interactions/{{id}}/{{token}}/callback", self._callback)
        app.router.add_post(f"{api}/webhooks/{{app}}/{{token}}", self._followup)
        app.router.add_patch(
            f"{api}/webhooks/{{app}}/{{token}}/messages/{{message}}", self._edit_original
        )
        app.router.add_get("/gateway", self._gateway)

    # REST ------------------------------------------------------------------------------

    def _authorized(self, request: web.Request) -> bool:
        return not self.revoked and request.headers.get("Authorization") == f"Bot {self.token}"

    @staticmethod
    def _json(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
        # discord.py reads JSON only with exactly this content type (no charset).
        return web.Response(
            body=json.dumps(data).encode(),
            status=status,
            headers={"Content-Type": "application/json"} | (headers or {}),
        )

    def _error(self, status: int, code: int, message: str) -> web.Response:
        return self._json({"message": message, "code": code}, status)

    def _unauthorized(self) -> web.Response:
        return self._error(401, 0, "401: Unauthorized")

    def bot_user(self) -> dict[str, Any]:
        return {
            "id": str(BOT_ID),
            "username": "newsbot",
            "discriminator": "0",
            "global_name": None,
            "avatar": None,
            "bot": True,
        }

    async def _me(self, request: web.Request) -> web.Response:
        self.requests.append(("GET", "/users/@me"))
        if not self._authorized(request):
            return self._unauthorized()
        return self._json(self.bot_user())

    async def _my_guilds(self, request: web.Request) -> web.Response:
        if not self._authorized(request):
            return self._unauthorized()
        return self._json([{"id": str(g), "name": n} for g, n in self.guilds.items()])

    async def _application(self, request: web.Request) -> web.Response:
        if not self._authorized(request):
            return self._unauthorized()
        return self._json(
            {
                "id": str(APP_ID),
                "name": "newsbot",
                "description": "",
                "icon": None,
                "bot_public": True,
                "bot_require_code_grant": False,
                "owner": {**self.bot_user(), "id": str(ADMIN), "bot": False},
                "verify_key": "0" * 64,
                "flags": 0,
                "summary": "",
                "rpc_origins": [],
            }
        )

    async def _gateway_info(self, request: web.Request) -> web.Response:
        self.requests.append(("GET", request.path.removeprefix("/api/v10")))
        return self._json(
            {
                "url": self.gateway_url,
                "shards": 2,
                "session_start_limit": {
                    "total": 1000,
                    "remaining": 999,
                    "reset_after": 0,
                    "max_concurrency": 1,
                },
            }
        )

    async def _sync(self, request: web.Request) -> web.Response:
        if not self._authorized(request):
            return self._unauthorized()
        scope = request.match_info.get("guild", "global")
        await asyncio.sleep(self.sync_delay)
        body = await request.json()
        answered = []
        for command in body:
            if command.get("default_member_permissions") not in (None, ""):
                self.problems.append(f"/{command['name']} sets default_member_permissions")
            answered.append(
                {
                    **command,
                    "id": snowflake(self._ids),
                    "application_id": str(APP_ID),
                    "version": "1",
                }
            )
        self.commands[scope] = answered
        self.syncs.append(scope)
        return self._json(answered)

    def overwrites(self, channel: int) -> list[dict[str, str | int]]:
        """The channel's permission overwrites: @everyone's denials, then each viewer's."""
        found: list[dict[str, str | int]] = []
        if self.denied.get(channel):
            guild = self.channels.get(channel, GUILD)
            found.append(
                {"id": str(guild), "type": 0, "allow": "0", "deny": str(self.denied[channel])}
            )
        found += [
            {"id": str(user), "type": 1, "allow": str(VIEW_CHANNEL), "deny": "0"}
            for user in sorted(self.viewers.get(channel, set()))
        ]
        return found

    def permissions(self, channel: int) -> int:
        granted = VIEW_CHANNEL if BOT_ID in self.viewers.get(channel, set()) else 0
        return (EVERYONE_PERMISSIONS & ~self.denied.get(channel, 0)) | granted

    async def _create_message(self, request: web.Request) -> web.Response:
        if not self._authorized(request):
            return self._unauthorized()
        channel = request.match_info["channel"]
        body = await request.json()
        self.requests.append(("POST", f"/channels/{channel}/messages"))
        self.problems += check_message(body)
        if len(str(body.get("nonce", ""))) > 25:
            self.problems.append("a nonce over 25 characters")
        if self.rate_limits > 0:
            self.rate_limits -= 1
            headers = {"Retry-After": f"{self.retry_after:g}", "X-RateLimit-Scope": "user"}
            if self.rate_limit_via:
                headers["Via"] = "1.1 google"
            data = {"message": "You are being rate limited.", "retry_after": self.retry_after}
            return self._json(data | {"global": False}, 429, headers)
        if self.server_errors > 0:
            self.server_errors -= 1
            return self._error(503, 0, "503: Service Unavailable")
        if int(channel) in self.closed_dms or self._dm_users.get(int(channel)) in self.closed_dms:
            return self._error(403, 50007, "Cannot send messages to this user")
        if int(channel) not in self.channels and not channel.startswith("96"):
            return self._error(404, 10003, "Unknown Channel")
        allowed = self.permissions(int(channel))
        if not allowed & VIEW_CHANNEL:
            return self._error(403, 50001, "Missing Access")
        if not allowed & SEND_MESSAGES or (body.get("embeds") and not allowed & EMBED_LINKS):
            return self._error(403, 50013, "Missing Permissions")
        if int(channel) in self.archived:
            return self._error(400, 50083, "Thread is archived")
        if int(channel) in self.refuse_embeds and body.get("embeds"):
            return self._error(400, 50035, "Invalid Form Body")
        nonce = str(body.get("nonce", ""))
        if nonce and body.get("enforce_nonce") and (channel, nonce) in self._nonces:
            return self._json(self._message(self._nonces[channel, nonce]))  # not posted again
        sent = Sent(channel, body, snowflake(self._ids))
        self.sent.append(sent)
        if nonce:
            self._nonces[channel, nonce] = sent
        return self._json(self._message(sent))

    def _message(self, sent: Sent) -> dict[str, Any]:
        return {
            "id": sent.id,
            "channel_id": sent.channel,
            "author": self.bot_user(),
            "content": sent.body.get("content") or "",
            "timestamp": datetime.now(UTC).isoformat(),
            "edited_timestamp": None,
            "tts": False,
            "mention_everyone": False,
            "mentions": [],
            "mention_roles": [],
            "attachments": [],
            "embeds": sent.body.get("embeds") or [],
            "pinned": False,
            "type": 0,
            "flags": sent.body.get("flags") or 0,
            "nonce": sent.body.get("nonce"),
        }

    async def _channel(self, request: web.Request) -> web.Response:
        if not self._authorized(request):
            return self._unauthorized()
        channel = int(request.match_info["channel"])
        if channel not in self.channels:
            return self._error(404, 10003, "Unknown Channel")
        if not self.permissions(channel) & VIEW_CHANNEL:
            return self._error(403, 50001, "Missing Access")
        guild = self.channels[channel]
        overwrites = self.overwrites(channel)
        return self._json(
            {
                "id": str(channel),
                "type": 0,
                "guild_id": str(guild),
                "name": f"news-{channel % 1000}",
                "position": 0,
                "permission_overwrites": overwrites,
            }
        )

    async def _guild_info(self, request: web.Request) -> web.Response:
        if not self._authorized(request):
            return self._unauthorized()
        return self._json(self.guild_payload(int(request.match_info["guild"])))

    async def _member(self, request: web.Request) -> web.Response:
        if not self._authorized(request):
            return self._unauthorized()
        user = int(request.match_info["user"])
        if user in self.left:
            return self._error(404, 10007, "Unknown Member")
        return self._json(self.member_payload(user, 0) | {"roles": []})

    async def _open_dm(self, request: web.Request) -> web.Response:
        if not self._authorized(request):
            return self._unauthorized()
        user = int((await request.json())["recipient_id"])
        dm = 960000000000000000 + user % 10**12  # stable per user, and starts with "96"
        self._dm_users[dm] = user
        recipient = {**self.bot_user(), "id": str(user), "bot": False, "username": f"u{user}"}
        return self._json({"id": str(dm), "type": 1, "recipients": [recipient]})

    def dms(self, user: int) -> list[dict[str, Any]]:
        return self.posts(960000000000000000 + user % 10**12)

    async def _callback(self, request: web.Request) -> web.Response:
        body = await request.json()
        interaction, token = request.match_info["id"], request.match_info["token"]
        kind = body.get("type")
        if kind in (4, 7):
            self.problems += check_message(
                body.get("data") or {}, "IncomingWebhookInteractionRequest"
            )
        if token in self.callbacks:
            self.problems.append(f"interaction {interaction} answered twice")
            return self._error(400, 40060, "Interaction has already been acknowledged.")
        self.callbacks[token] = body
        self.answered_at[token] = time.monotonic()
        answer = {
            "interaction": {
                "id": interaction,
                "type": 2,
                "response_message_loading": kind == 5,
                "response_message_ephemeral": bool((body.get("data") or {}).get("flags", 0) & 64),
            }
        }
        return self._json(answer)

    async def _followup(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.problems += check_message(body, "IncomingWebhookRequestPartial")
        self.followups[request.match_info["token"]].append(body)
        sent = Sent("0", body, snowflake(self._ids))
        return self._json(self._message(sent) | {"webhook_id": str(APP_ID)})

    async def _edit_original(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.problems += check_message(body, "IncomingWebhookUpdateRequestPartial")
        self.followups[request.match_info["token"]].append(body)
        sent = Sent("0", body, snowflake(self._ids))
        return self._json(self._message(sent) | {"webhook_id": str(APP_ID)})

    # The gateway -------------------------------------------------------------------------

    def guild_payload(self, guild: int) -> dict[str, Any]:
        return {
            "id": str(guild),
            "name": self.guilds.get(guild, "guild"),
            "owner_id": str(ADMIN),
            "roles": [
                {
                    "id": str(guild),
                    "name": "@everyone",
                    "permissions": str(EVERYONE_PERMISSIONS),
                    "position": 0,
                    "color": 0,
                    "hoist": False,
                    "managed": False,
                    "mentionable": False,
                }
            ],
            "channels": [
                {
                    "id": str(c),
                    "type": 0,
                    "name": f"news-{c % 1000}",
                    "position": 0,
                    "permission_overwrites": self.overwrites(c),
                }
                for c, g in self.channels.items()
                if g == guild
            ],
            "members": [],
            "member_count": 3,
            "features": [],
            "emojis": [],
            "stickers": [],
        }

    def member_payload(self, user: int, permissions: int) -> dict[str, Any]:
        return {
            "user": {**self.bot_user(), "id": str(user), "bot": False, "username": f"u{user}"},
            "roles": [],
            "joined_at": "2026-01-01T00:00:00+00:00",
            "deaf": False,
            "mute": False,
            "flags": 0,
            "permissions": str(permissions),
        }

    async def _gateway(self, request: web.Request) -> web.WebSocketResponse:
        socket = web.WebSocketResponse()
        await socket.prepare(request)
        await socket.send_json({"op": 10, "d": {"heartbeat_interval": 41250}, "s": None, "t": None})
        current: Gateway | None = None
        async for message in socket:
            if message.type != web.WSMsgType.TEXT:
                continue
            body = json.loads(message.data)
            if body["op"] == 1:
                await socket.send_json({"op": 11, "d": None, "s": None, "t": None})
            elif body["op"] == 2:
                current = await self._identify(socket, body["d"])
            elif body["op"] == 6:
                current = await self._resume(socket, body["d"])
        if current in self.gateways:
            self.gateways.remove(current)
        return socket

    async def _identify(
        self, socket: web.WebSocketResponse, data: dict[str, Any]
    ) -> Gateway | None:
        if data.get("token") != self.token:
            await socket.close(code=4004, message=b"Authentication failed.")
            return None
        shard_id, count = data.get("shard") or [0, 1]
        self.identifies.append((shard_id, count))
        session = f"session-{next(self._ids)}"
        self._events[session] = []
        current = Gateway(socket, session, (shard_id, count))
        self.gateways.append(current)
        mine = [g for g in self.guilds if (g >> 22) % count == shard_id]
        await self._dispatch(
            current,
            "READY",
            {
                "v": 10,
                "user": self.bot_user(),
                "guilds": [{"id": str(g), "unavailable": True} for g in mine],
                "session_id": session,
                "resume_gateway_url": self.gateway_url,
                "application": {"id": str(APP_ID), "flags": 0},
                "shard": [shard_id, count],
            },
        )
        for guild in mine:
            await self._dispatch(current, "GUILD_CREATE", self.guild_payload(guild))
        return current

    async def _resume(self, socket: web.WebSocketResponse, data: dict[str, Any]) -> Gateway | None:
        session = data.get("session_id", "")
        if data.get("token") != self.token or session not in self._events:
            await socket.send_json({"op": 9, "d": False, "s": None, "t": None})
            return None
        self.resumes += 1
        old = next((g for g in self.gateways if g.session == session), None)
        current = Gateway(socket, session, old.shard if old else (0, 1))
        if old is not None:
            self.gateways.remove(old)
        self.gateways.append(current)
        for event in self._events[session][int(data.get("seq") or 0) :]:
            await socket.send_json(event)
        await self._dispatch(current, "RESUMED", {})
        return current

    async def _dispatch(self, gateway: Gateway, name: str, data: dict[str, Any]) -> None:
        log = self._events[gateway.session]
        event = {"op": 0, "t": name, "s": len(log) + 1, "d": data}
        log.append(event)
        if not gateway.socket.closed:
            await gateway.socket.send_json(event)

    async def update_channel(self, channel: int) -> None:
        """CHANNEL_UPDATE for a channel whose overwrites changed (say, a permission granted),
        on every open gateway."""
        guild = self.channels[channel]
        data = {
            "id": str(channel),
            "guild_id": str(guild),
            "type": 0,
            "name": f"news-{channel % 1000}",
            "position": 0,
            "permission_overwrites": self.overwrites(channel),
        }
        for gateway in [g for g in self.gateways if not g.socket.closed]:
            await self._dispatch(gateway, "CHANNEL_UPDATE", data)

    async def wait_connected(self, shards: int = 1, timeout: float = 15.0) -> None:
        for _ in range(int(timeout / 0.05)):
            if len({g.shard for g in self.gateways if not g.socket.closed}) >= shards:
                return
            await asyncio.sleep(0.05)
        raise AssertionError(f"{len(self.gateways)} gateway connections, expected {shards}")

    async def drop(self) -> None:
        """Close every gateway socket as a network failure would (the client resumes)."""
        for gateway in list(self.gateways):
            await gateway.socket.close(code=4000, message=b"dropped by the test")

    def command_ids(self) -> dict[str, str]:
        return {c["name"]: c["id"] for cmds in self.commands.values() for c in cmds}

    async def interact(
        self,
        path: str,
        options: dict[str, Any] | None = None,
        *,
        user: int = ADMIN,
        permissions: int = EVERYONE_PERMISSIONS | MANAGE_CHANNELS,
        app_permissions: int | None = None,
        channel: int = CHANNEL,
        guild: int | None = GUILD,
        focused: str | None = None,
        session: str | None = None,
    ) -> tuple[str, str]:
        """Send a `/news …` INTERACTION_CREATE (an autocomplete one when `focused` names an
        option) over the gateway of the guild's shard (or of `session`); its interaction id
        and token."""
        names = path.split()
        ids = self.command_ids()
        if names[0] not in ids:
            raise AssertionError(f"/{names[0]} was never synced: Discord would not send it")
        leaf = [
            {"type": option_type(v), "name": k, "value": option_value(v)}
            | ({"focused": True} if k == focused else {})
            for k, v in (options or {}).items()
        ]
        named = [v for v in (options or {}).values() if isinstance(v, ChannelOption)]
        for name in reversed(names[1:]):
            kind = 1 if not leaf or leaf[0].get("type") != 1 else 2
            leaf = [{"type": kind, "name": name, "options": leaf}]
        data: dict[str, Any] = {"id": ids[names[0]], "name": names[0], "type": 1, "options": leaf}
        if named:
            data["resolved"] = {"channels": {str(c.id): c.resolved() for c in named}}
        return await self._interaction(
            4 if focused else 2,
            data,
            user=user,
            permissions=permissions,
            app_permissions=app_permissions,
            channel=channel,
            guild=guild,
            session=session,
        )

    async def _interaction(
        self,
        kind: int,
        data: dict[str, Any],
        *,
        user: int,
        permissions: int,
        channel: int,
        guild: int | None,
        session: str | None,
        app_permissions: int | None = None,
        message: dict[str, Any] | None = None,
    ) -> tuple[str, str]:
        """An INTERACTION_CREATE of `kind` with `data`, as Discord sends it, dispatched on
        the guild's gateway (or `session`'s); its interaction id and token."""
        number = next(self._ids)
        interaction = snowflake(self._ids)
        token = f"itoken-{number}"
        payload: dict[str, Any] = {
            "id": interaction,
            "application_id": str(APP_ID),
            "type": kind,
            "data": data,
            "channel_id": str(channel),
            "channel": {"id": str(channel), "type": 0 if guild else 1, "name": "news"},
            "token": token,
            "version": 1,
            "app_permissions": str(
                self.permissions(channel) if app_permissions is None else app_permissions
            ),
            "locale": "en-US",
            "entitlements": [],
            "authorizing_integration_owners": {"0": str(guild or 0)},
            "context": 0 if guild else 1,
            "attachment_size_limit": 8 * 1024 * 1024,
        }
        if message is not None:
            payload["message"] = message
        if guild:
            payload |= {
                "guild_id": str(guild),
                "guild_locale": "en-US",
                "member": self.member_payload(user, permissions),
            }
        else:
            payload["user"] = self.member_payload(user, 0)["user"]
        self.interactions[interaction] = payload
        await self.redeliver(interaction, session=session)
        return interaction, token

    async def press(
        self,
        custom_id: str,
        *,
        values: list[str] | None = None,
        user: int = ADMIN,
        permissions: int = EVERYONE_PERMISSIONS | MANAGE_CHANNELS,
        channel: int = CHANNEL,
        guild: int | None = GUILD,
        session: str | None = None,
    ) -> tuple[str, str]:
        """A click on a message component (a button, or a select with `values`): an
        INTERACTION_CREATE of type 3 on the guild's gateway (or `session`'s); its
        interaction id and token."""
        data: dict[str, Any] = {"custom_id": custom_id, "component_type": 2}
        if values is not None:
            data = {"custom_id": custom_id, "component_type": 3, "values": values}
        message = self._message(Sent(str(channel), {"content": "posted"}, snowflake(self._ids)))
        return await self._interaction(
            3,
            data,
            user=user,
            permissions=permissions,
            channel=channel,
            guild=guild,
            session=session,
            message=message,
        )

    async def redeliver(self, interaction: str, *, session: str | None = None) -> None:
        """Dispatch an interaction (again) on the gateway of its guild's shard."""
        payload = self.interactions[interaction]
        guild = int(payload.get("guild_id") or 0)
        shard = (guild >> 22) % max((g.shard[1] for g in self.gateways), default=1)
        live = [
            g
            for g in self.gateways
            if not g.socket.closed
            and (g.session == session or session is None)
            and (g.shard[0] == shard or session is not None)
        ]
        if not live:
            raise AssertionError("no gateway connection to send the interaction on")
        self.sent_at[payload["token"]] = time.monotonic()
        await self._dispatch(live[-1], "INTERACTION_CREATE", payload)

    async def answered(self, token: str, count: int = 1, timeout: float = 15.0) -> list[Any]:
        """The callback and follow-ups of an interaction, once there are `count` of them."""
        for _ in range(int(timeout / 0.02)):
            found = [self.callbacks[token]] if token in self.callbacks else []
            if len(found) + len(self.followups[token]) >= count:
                return found + self.followups[token]
            await asyncio.sleep(0.02)
        raise AssertionError(f"interaction {token} was not answered {count} times")
