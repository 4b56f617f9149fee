"""Signing in to the managers' web page: one-time links from chat, and sessions.

No passwords and no user table. A manager asks in chat (or the operator at the console)
and gets a link that names who they are: a platform, a workspace or guild, and a member
(or the operator, who sees every workspace).

- The link is ``<link id>.<expiry>.<signature>``. The signature is an HMAC-SHA256 over the
  id, the expiry and the scope, keyed with a secret kept in Redis (``ui:secret``, made once
  with SET NX, so every process signs alike). The scope itself waits in Redis under the
  link id (``ui:link:<id>``) for 15 minutes.
- Redeeming the link takes the scope out of Redis (GETDEL), so a link works once, from
  any process. Looking at a link (`peek`) uses nothing up: link previewers and mail
  scanners open links, and only the sign-in form's POST redeems.
- A session is a random id in a cookie. Redis keeps its scope and its CSRF token under a
  hash of the id (``ui:session:<hash>``) for 8 hours, so a copy of Redis holds no usable
  cookie.
- Sign-ins are limited to `LOGINS_PER_MINUTE` per client address (``ui:logins:<addr>``).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import asdict, dataclass

from redis.asyncio import Redis

from bot.store.keys import Keys

LINK_SECONDS = 15 * 60
SESSION_SECONDS = 8 * 3600
LOGINS_PER_MINUTE = 10


@dataclass(frozen=True)
class Scope:
    """Who a link or session is for: a member of one workspace, or the operator."""

    platform: str
    workspace: str
    user: str
    operator: bool = False

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True, separators=(",", ":"))

    @classmethod
    def from_json(cls, raw: str) -> Scope:
        data = json.loads(raw)
        return cls(
            str(data["platform"]),
            str(data["workspace"]),
            str(data["user"]),
            bool(data.get("operator")),
        )


OPERATOR = Scope("console", "*", "operator", operator=True)

# A platform's answer, asked on every page: of these channels of the member's workspace,
# the ones they manage now, a private one only while they are a member of it.
ManagedChannels = Callable[[Scope, Sequence[str]], Awaitable[set[str]]]


@dataclass(frozen=True)
class Session:
    scope: Scope
    csrf: str


def _hashed(secret_id: str) -> str:
    return hashlib.sha256(secret_id.encode()).hexdigest()[:32]


class UiAuth:
    """One-time links and sessions for the web page, shared by every process on a Redis."""

    def __init__(
        self, client: Redis, keys: Keys, *, clock: Callable[[], float] = time.time
    ) -> None:
        self._client = client
        self._keys = keys
        self._clock = clock
        self._secret: bytes | None = None

    async def _key(self) -> bytes:
        if self._secret is None:
            fresh = secrets.token_hex(32)
            await self._client.set(self._keys.ui_secret, fresh, nx=True)
            stored = await self._client.get(self._keys.ui_secret)
            self._secret = str(stored or fresh).encode()
        return self._secret

    async def _sign(self, link_id: str, expires: int, scope: Scope) -> str:
        message = f"{link_id}.{expires}.{scope.to_json()}".encode()
        return hmac.new(await self._key(), message, hashlib.sha256).hexdigest()

    async def issue(self, scope: Scope) -> str:
        """A one-time link token for `scope`, valid for 15 minutes."""
        link_id = secrets.token_urlsafe(18)
        expires = int(self._clock()) + LINK_SECONDS
        await self._client.set(self._keys.ui_link(link_id), scope.to_json(), ex=LINK_SECONDS)
        return f"{link_id}.{expires}.{await self._sign(link_id, expires, scope)}"

    async def peek(self, token: str) -> Scope | None:
        """The scope of a valid, unused link, without using it up."""
        return await self._check(token, redeem=False)

    async def redeem(self, token: str) -> Scope | None:
        """The scope of a valid link, used up (a second redeem gets None)."""
        return await self._check(token, redeem=True)

    async def _check(self, token: str, *, redeem: bool) -> Scope | None:
        parts = token.split(".")
        if len(parts) != 3 or not parts[1].isdigit() or len(token) > 200:
            return None
        link_id, expires, signature = parts[0], int(parts[1]), parts[2]
        if expires < self._clock():
            return None
        key = self._keys.ui_link(link_id)
        raw = await self._client.get(key)
        if raw is None:
            return None
        scope = Scope.from_json(str(raw))
        expected = await self._sign(link_id, expires, scope)
        if not hmac.compare_digest(expected, signature):
            return None  # a forged token uses nothing up
        if redeem and await self._client.getdel(key) != raw:
            return None  # another request redeemed it first
        return scope

    async def start_session(self, scope: Scope) -> tuple[str, Session]:
        """A new session for `scope`: the cookie's value and the session."""
        session_id = secrets.token_urlsafe(32)
        session = Session(scope, secrets.token_urlsafe(24))
        record = json.dumps({"scope": scope.to_json(), "csrf": session.csrf})
        key = self._keys.ui_session(_hashed(session_id))
        await self._client.set(key, record, ex=SESSION_SECONDS)
        return session_id, session

    async def session(self, session_id: str) -> Session | None:
        """The session a cookie names, while it lasts."""
        if not session_id or len(session_id) > 100:
            return None
        raw = await self._client.get(self._keys.ui_session(_hashed(session_id)))
        if raw is None:
            return None
        record = json.loads(str(raw))
        return Session(Scope.from_json(record["scope"]), str(record["csrf"]))

    async def end_session(self, session_id: str) -> None:
        await self._client.delete(self._keys.ui_session(_hashed(session_id)))

    async def may_sign_in(self, address: str) -> bool:
        """False once this address tried `LOGINS_PER_MINUTE` sign-ins within a minute."""
        key = self._keys.ui_logins(_hashed(address))
        async with self._client.pipeline(transaction=True) as pipe:
            pipe.set(key, 0, ex=60, nx=True)  # the minute starts with the first try
            pipe.incr(key)
            _, count = await pipe.execute()
        return int(count) <= LOGINS_PER_MINUTE
