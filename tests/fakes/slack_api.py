"""A fake Slack Web API on 127.0.0.1 that records every call and checks it.

The real slack_sdk client talks to it (`base_url`). Each call is checked against the
vendor's spec (../shared/specs/slack_web_openapi_v2.json: parameter names, required ones,
types) and, for messages, the Block Kit limits of docs/architecture.md; `problems` collects what
failed, and every test that uses the fake asserts it stays empty. Tests script refusals:
an error for a channel, 429s with a Retry-After, a revoked token.
"""

from __future__ import annotations

import base64
import html
import itertools
import json
import random
import re
import time
from collections import defaultdict
from dataclasses import dataclass, field
from functools import cache
from typing import Any

import aiohttp
from aiohttp import web
from jsonschema import Draft7Validator

from tests.conftest import SHARED
from tests.fakes.loopback import LoopbackServer

SPEC = SHARED / "specs" / "slack_web_openapi_v2.json"
TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "boolean": (bool, str),
    "integer": (int, str),
    "number": (int, float, str),
}
# Sent by slack_sdk or added to the API after the spec was frozen (see the specs' README).
NOT_IN_SPEC = {"token", "team_id", "metadata", "markdown_text"}
# Methods newer than the frozen spec, checked by hand here.
NEWER_METHODS = {"apps.connections.open"}


@cache
def _spec() -> dict[str, Any]:
    return dict(json.loads(SPEC.read_text()))


def _text_size(block: dict[str, Any]) -> int:
    size = 0
    if isinstance(block.get("text"), dict):
        size += len(block["text"].get("text", ""))
    for element in block.get("elements", []):
        if isinstance(element, dict):
            size += len(element.get("text", ""))
    return size


def check_call(method: str, params: dict[str, Any]) -> list[str]:
    """What is wrong with a Web API call, by the spec and by the Block Kit limits."""
    if method in NEWER_METHODS:
        return []
    if method == "oauth.v2.access" and params.get("grant_type") == "refresh_token":
        # Token rotation's form (newer than the frozen spec): a refresh token, no code.
        rotation = {"grant_type", "refresh_token"}
        params = {k: v for k, v in params.items() if k not in rotation} | {"code": "refresh"}
    path = _spec()["paths"].get(f"/{method}")
    if path is None:
        return [f"{method}: not a Web API method"]
    operation = path.get("post") or path.get("get")
    declared = {p["name"]: p for p in operation["parameters"] if p["in"] != "header"}
    problems = [
        f"{method}: unknown parameter {name}"
        for name in params
        if name not in declared and name not in NOT_IN_SPEC
    ]
    problems += [
        f"{method}: missing {name}"
        for name, p in declared.items()
        if p.get("required") and name not in params and name != "token"
    ]
    for name, value in params.items():
        kind = declared.get(name, {}).get("type")
        if kind in TYPES and not isinstance(value, TYPES[kind]) and name != "blocks":
            problems.append(f"{method}: {name} should be {kind}")
    if method == "chat.postMessage":
        problems += _check_message(params)
    return problems


def _check_message(params: dict[str, Any]) -> list[str]:
    problems = []
    if not params.get("text"):
        problems.append("chat.postMessage without a text fallback")
    blocks = params.get("blocks") or []
    if isinstance(blocks, str):
        blocks = json.loads(blocks)
    problems += [
        e.message for e in Draft7Validator(_spec()["definitions"]["blocks"]).iter_errors(blocks)
    ]
    if len(blocks) > 50:
        problems.append(f"{len(blocks)} blocks (at most 50)")
    for block in blocks:
        text = block.get("text") or {}
        if block["type"] == "section" and len(text.get("text", "")) > 3000:
            problems.append("a section over 3000 characters")
        if block["type"] == "header" and (
            text.get("type") != "plain_text" or len(text.get("text", "")) > 150
        ):
            problems.append("a header over 150 characters or not plain_text")
        if block["type"] == "context" and len(block.get("elements", [])) > 10:
            problems.append("a context with over 10 elements")
        accessory = block.get("accessory") or {}
        if accessory.get("type") == "overflow":
            problems += _check_overflow(accessory)
    if sum(_text_size(b) for b in blocks) > 11_000:
        problems.append("over 11,000 characters of block text")
    if params.get("unfurl_links") not in (False, "false", "0", 0):
        problems.append("unfurl_links is not off")
    return problems


def _check_overflow(menu: dict[str, Any]) -> list[str]:
    """An overflow menu's limits (Block Kit reference): 2 to 5 options, each with
    plain_text of at most 75 characters and a value of at most 150; an action_id of at
    most 255."""
    problems = []
    options = menu.get("options") or []
    if not 2 <= len(options) <= 5:
        problems.append(f"an overflow with {len(options)} options (2 to 5)")
    if not menu.get("action_id") or len(menu["action_id"]) > 255:
        problems.append("an overflow without an action_id of at most 255 characters")
    for option in options:
        text = option.get("text") or {}
        if text.get("type") != "plain_text" or not 0 < len(text.get("text", "")) <= 75:
            problems.append("an overflow option's text is not plain_text of 1 to 75 characters")
        if not 0 < len(option.get("value", "")) <= 150:
            problems.append("an overflow option's value is not 1 to 150 characters")
    return problems


@dataclass
class Call:
    method: str
    params: dict[str, Any]
    token: str
    at: float = field(default_factory=time.monotonic)
    ok: bool = False  # what Slack answered


@dataclass
class FakeSlack(LoopbackServer):
    """Answers like Slack; `calls` holds every call, `problems` what was wrong with them."""

    token: str = "xoxb-test"
    app_token: str = "xapp-test"
    calls: list[Call] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    channel_errors: dict[str, str] = field(default_factory=dict)  # channel id -> error
    rate_limits: defaultdict[str, int] = field(default_factory=lambda: defaultdict(int))
    retry_after: float = 1.0
    fail_posts: int = 0  # answer this many more chat.postMessage with an internal error
    refuse_blocks: set[str] = field(default_factory=set)  # channels answering invalid_blocks
    # A share of chat.postMessage calls refused with an error drawn from `fault_errors`
    # (bench/crash.py); `faulted` records (channel, error) of each.
    fault_share: float = 0.0
    fault_errors: tuple[str, ...] = ()
    faulted: list[tuple[str, str]] = field(default_factory=list)
    rng: random.Random = field(default_factory=lambda: random.Random(7))
    revoked: bool = False
    admins: set[str] = field(default_factory=set)
    outside: set[str] = field(default_factory=set)  # channels the bot is not a member of
    private: set[str] = field(default_factory=set)  # private channels
    foreign: set[str] = field(default_factory=set)  # channels of another workspace
    members: dict[str, list[str]] = field(default_factory=dict)  # channel -> its members
    closed_dms: set[str] = field(default_factory=set)  # users the bot cannot DM
    responses: list[dict[str, Any]] = field(default_factory=list)  # posts to response_url
    sockets: list[web.WebSocketResponse] = field(default_factory=list)
    acks: dict[str, tuple[float, dict[str, Any]]] = field(default_factory=dict)  # envelope
    sent: dict[str, float] = field(default_factory=dict)  # envelope id -> when it was sent
    scopes: set[str] = field(
        default_factory=lambda: {
            "commands",
            "chat:write",
            "channels:read",
            "groups:read",
            "im:write",
            "users:read",
        }
    )
    # OAuth: the workspace an installer is in when they open the authorize page, the
    # tokens and refresh tokens issued (-> team), one-time codes, and whether the app
    # rotates tokens (and how long a token lasts then).
    installing: str = "T1"
    issued: dict[str, str] = field(default_factory=dict)
    refresh_tokens: dict[str, str] = field(default_factory=dict)
    codes: dict[str, str] = field(default_factory=dict)
    rotation: bool = False
    expires_in: int = 43200
    client_id: str = "111.222"
    client_secret: str = "client-secret"
    _ts: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    def __post_init__(self) -> None:
        super().__init__()

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api/"

    def posts(self, channel: str | None = None) -> list[dict[str, Any]]:
        return [
            c.params
            for c in self.calls
            if c.method == "chat.postMessage" and channel in (None, c.params.get("channel"))
        ]

    def accepted_posts(self, channel: str) -> list[dict[str, Any]]:
        """The posts to a channel that Slack accepted."""
        return [
            c.params
            for c in self.calls
            if c.method == "chat.postMessage" and c.ok and c.params.get("channel") == channel
        ]

    def refused_posts(self, channel: str) -> int:
        return len(self.posts(channel)) - len(self.accepted_posts(channel))

    def response_url(self, name: str = "1") -> str:
        return f"http://127.0.0.1:{self.port}/response/{name}"

    @property
    def authorize_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/oauth/v2/authorize"

    def team_of(self, token: str) -> str:
        """The workspace a token was issued for ("T1" for the one bot token)."""
        return self.issued.get(token, "T1")

    def tokens_used(self, method: str, channel: str | None = None) -> set[str]:
        return {
            c.token
            for c in self.calls
            if c.method == method and channel in (None, c.params.get("channel"))
        }

    async def install(self, base: str, team: str) -> str:
        """An admin of `team` opens newsbot's "Add to Slack" page at `base`, clicks, and
        approves; the redirect they came back on (its state is spent by then)."""
        self.installing = team
        async with aiohttp.ClientSession() as browser:
            async with browser.get(f"{base}/slack/install") as page:
                assert page.status == 200, page.status
                found = re.search(r'href="([^"]*oauth/v2/authorize[^"]*)"', await page.text())
                # bolt's state cookie is Secure, which a browser sends back over https;
                # here, on http://127.0.0.1, it is sent back by hand.
                state = page.cookies["slack-app-oauth-state"].value
            assert found, "the install page links to Slack's authorize page"
            async with browser.get(html.unescape(found[1]), allow_redirects=False) as approved:
                back = approved.headers["Location"]
            cookie = {"Cookie": f"slack-app-oauth-state={state}"}
            async with browser.get(back, headers=cookie) as done:
                assert done.status == 200, await done.text()
        return back

    def revoke_team(self, team: str) -> None:
        """The workspace uninstalled the app: its tokens stop working."""
        for token in [t for t, owner in self.issued.items() if owner == team]:
            del self.issued[token]

    def add_routes(self, app: web.Application) -> None:
        app.router.add_get("/oauth/v2/authorize", self._authorize)
        app.router.add_post("/api/{method}", self._handle)
        app.router.add_get("/api/{method}", self._handle)  # users.info and others use GET
        app.router.add_post("/response/{name}", self._respond)
        app.router.add_get("/link", self._socket)

    async def _socket(self, request: web.Request) -> web.WebSocketResponse:
        """Socket Mode: hello, then whatever `send_command` puts on it; acks recorded."""
        socket = web.WebSocketResponse()
        await socket.prepare(request)
        self.sockets.append(socket)
        await socket.send_json({"type": "hello", "num_connections": 1, "debug_info": {}})
        async for message in socket:
            if message.type == web.WSMsgType.TEXT:
                body = json.loads(message.data)
                if "envelope_id" in body:
                    self.acks[body["envelope_id"]] = (time.monotonic(), body.get("payload") or {})
        return socket

    async def send_command(
        self, text: str, *, user: str = "UADMIN", name: str = "1", channel: str = "C1"
    ) -> str:
        """A `/news` slash command over the newest socket, as Slack sends it."""
        envelope = f"env-{len(self.sent) + 1}"
        payload = {
            "token": "legacy",
            "team_id": "T1",
            "channel_id": channel,
            "user_id": user,
            "command": "/news",
            "text": text,
            "response_url": self.response_url(name),
            "trigger_id": "1.2.3",
        }
        self.sent[envelope] = time.monotonic()
        await self.sockets[-1].send_json(
            {
                "envelope_id": envelope,
                "type": "slash_commands",
                "accepts_response_payload": True,
                "payload": payload,
            }
        )
        return envelope

    def event_callback(self, event: dict[str, Any], *, team: str = "T1") -> dict[str, Any]:
        """An Events API callback for `event`, as Slack posts it (HTTP mode) or puts it in
        an envelope (Socket Mode)."""
        return {
            "token": "legacy",
            "team_id": team,
            "api_app_id": "A1",
            "event": {"event_ts": f"{time.time():.6f}", **event},
            "type": "event_callback",
            "event_id": f"Ev{len(self.sent) + next(self._ts)}",
            "event_time": int(time.time()),
            "authorizations": [{"team_id": team, "user_id": "UBOT", "is_bot": True}],
        }

    async def send_event(self, event: dict[str, Any]) -> str:
        """An event over the newest socket (Socket Mode), as Slack sends it."""
        return await self._envelope("events_api", self.event_callback(event))

    async def _envelope(self, kind: str, payload: dict[str, Any]) -> str:
        """A Socket Mode envelope of `kind` over the newest socket; its id."""
        envelope = f"env-{len(self.sent) + 1}"
        self.sent[envelope] = time.monotonic()
        await self.sockets[-1].send_json(
            {
                "envelope_id": envelope,
                "type": kind,
                "accepts_response_payload": False,
                "payload": payload,
            }
        )
        return envelope

    def block_actions(
        self,
        value: str,
        *,
        user: str = "UADMIN",
        channel: str = "C1",
        name: str = "1",
        trigger: str | None = None,
    ) -> dict[str, Any]:
        """A `block_actions` payload for an option picked from a story's overflow menu, as
        Slack sends it (HTTP mode: form field ``payload``; Socket Mode: an envelope)."""
        stamp = f"{time.time():.6f}"
        return {
            "type": "block_actions",
            "team": {"id": "T1", "domain": "example"},
            "user": {"id": user, "username": user.lower(), "team_id": "T1"},
            "api_app_id": "A1",
            "token": "legacy",
            "container": {"type": "message", "channel_id": channel, "message_ts": "1.000100"},
            "trigger_id": trigger or f"{next(self._ts)}.{stamp}",
            "channel": {"id": channel, "name": "news"},
            "message": {"type": "message", "ts": "1.000100", "text": "", "blocks": []},
            "response_url": self.response_url(name),
            "actions": [
                {
                    "type": "overflow",
                    "action_id": "nb:story",
                    "block_id": "story-1",
                    "selected_option": {
                        "text": {"type": "plain_text", "text": "action"},
                        "value": value,
                    },
                    "action_ts": stamp,
                }
            ],
        }

    async def send_action(self, payload: dict[str, Any]) -> str:
        """A `block_actions` payload over the newest socket (Socket Mode)."""
        return await self._envelope("interactive", payload)

    async def _authorize(self, request: web.Request) -> web.Response:
        """The installer approves: back to the app's redirect URL with a one-time code."""
        query = request.query
        if query.get("client_id") != self.client_id:
            return web.Response(status=400, text="unknown client_id")
        code = f"code-{next(self._ts)}"
        self.codes[code] = self.installing
        target = f"{query['redirect_uri']}?code={code}&state={query.get('state', '')}"
        raise web.HTTPFound(target)

    def _oauth_access(self, params: dict[str, Any]) -> dict[str, Any]:
        """`oauth.v2.access`: a code for a workspace's token, or (rotation) a refresh
        token, which works once, for a new token and a new refresh token."""
        if (params.get("client_id"), params.get("client_secret")) != (
            self.client_id,
            self.client_secret,
        ):
            return {"ok": False, "error": "invalid_client_id"}
        if params.get("grant_type") == "refresh_token":
            team = self.refresh_tokens.pop(str(params.get("refresh_token")), None)
            if team is None:
                return {"ok": False, "error": "invalid_refresh_token"}
        else:
            team = self.codes.pop(str(params.get("code")), None)
            if team is None:
                return {"ok": False, "error": "invalid_code"}
        number = next(self._ts)
        token = f"xoxb-{team}-{number}"
        self.issued[token] = team
        answer: dict[str, Any] = {
            "ok": True,
            "app_id": "A1",
            "access_token": token,
            "token_type": "bot",
            "scope": ",".join(sorted(self.scopes)),
            "bot_user_id": f"UB{team}",
            "team": {"id": team, "name": f"Team {team}"},
            "authed_user": {"id": "UADMIN"},
        }
        if self.rotation:
            refresh = f"xoxe-{team}-{number}"
            self.refresh_tokens[refresh] = team
            answer |= {"refresh_token": refresh, "expires_in": self.expires_in}
        return answer

    async def _respond(self, request: web.Request) -> web.Response:
        body = dict(await request.json())
        self.responses.append(body)
        if body.get("blocks"):
            self.problems += _check_message({**body, "unfurl_links": False})
        return web.Response(text="ok")

    async def _handle(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        # slack_sdk puts some methods' arguments in the query string, others in the body.
        params: dict[str, Any] = dict(request.query)
        if request.method == "POST" and request.content_type == "application/json":
            params |= dict(await request.json())
        elif request.method == "POST":
            params |= dict(await request.post())
        token = request.headers.get("Authorization", "").removeprefix("Bearer ")
        self.calls.append(Call(method, params, token))
        self.problems += check_call(method, params)
        if method == "apps.connections.open" and token == self.app_token:
            return web.json_response({"ok": True, "url": f"ws://127.0.0.1:{self.port}/link"})
        if method == "oauth.v2.access":
            if token.startswith("Basic "):  # slack_sdk sends the app's credentials so
                client_id, _, secret = base64.b64decode(token[6:]).decode().partition(":")
                params |= {"client_id": client_id, "client_secret": secret}
            answer = self._oauth_access(params)
            self.calls[-1].ok = bool(answer.get("ok"))
            return web.json_response(answer)
        if self.revoked or (token != self.token and token not in self.issued):
            return web.json_response(
                {"ok": False, "error": "token_revoked" if self.revoked else "invalid_auth"}
            )
        if self.rate_limits[method] > 0:
            self.rate_limits[method] -= 1
            return web.json_response(
                {"ok": False, "error": "ratelimited"},
                status=429,
                headers={"Retry-After": f"{self.retry_after:g}"},
            )
        headers = {"x-oauth-scopes": ",".join(sorted(self.scopes))}
        answer = self._answer(method, params, self.team_of(token))
        self.calls[-1].ok = bool(answer.get("ok"))
        return web.json_response(answer, headers=headers)

    def _answer(self, method: str, params: dict[str, Any], team: str) -> dict[str, Any]:
        if method == "auth.test":
            return {
                "ok": True,
                "team": "Test" if team == "T1" else f"Team {team}",
                "team_id": team,
                "user": "newsbot",
                "user_id": "UBOT",
                "bot_id": f"B{team}",
            }
        if method == "users.info":
            user = str(params.get("user"))
            admin = user in self.admins
            return {"ok": True, "user": {"id": user, "is_admin": admin, "is_owner": False}}
        if method == "conversations.info":
            channel = str(params.get("channel"))
            if channel in self.foreign:  # another workspace's: this bot cannot see it
                return {"ok": False, "error": "channel_not_found"}
            return {
                "ok": True,
                "channel": {
                    "id": channel,
                    "context_team_id": team,
                    "is_member": channel not in self.outside,
                    "is_private": channel in self.private,
                },
            }
        if method == "conversations.members":
            # Two a page, whatever the limit asked: every caller must follow the cursor.
            if str(params.get("channel")) in self.channel_errors:
                return {"ok": False, "error": self.channel_errors[str(params.get("channel"))]}
            everyone = self.members.get(str(params.get("channel")), [])
            start = int(params.get("cursor") or 0)
            more = start + 2 < len(everyone)
            return {
                "ok": True,
                "members": everyone[start : start + 2],
                "response_metadata": {"next_cursor": str(start + 2) if more else ""},
            }
        if method == "conversations.open":
            if params.get("users") in self.closed_dms:
                return {"ok": False, "error": "user_disabled"}
            return {"ok": True, "channel": {"id": f"D{params.get('users')}"}}
        if method in {"chat.postMessage", "chat.postEphemeral"}:
            channel = str(params.get("channel"))
            if channel in self.channel_errors:
                return {"ok": False, "error": self.channel_errors[channel]}
            if channel in self.refuse_blocks and params.get("blocks"):
                return {"ok": False, "error": "invalid_blocks"}
            if method == "chat.postMessage" and self.rng.random() < self.fault_share:
                error = self.rng.choice(self.fault_errors)
                self.faulted.append((channel, error))
                return {"ok": False, "error": error}
            if self.fail_posts > 0:
                self.fail_posts -= 1
                return {"ok": False, "error": "internal_error"}
            return {"ok": True, "channel": channel, "ts": f"{next(self._ts)}.000100"}
        return {"ok": True}
