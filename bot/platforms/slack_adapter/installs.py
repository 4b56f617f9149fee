"""Slack in OAuth mode: each workspace's installation in Redis, and its token on demand.

An installation (bot token, refresh token and expiry, bot ids, scopes, who installed it)
is kept per team in ``slack:installs``, sealed with ``NEWSBOT_SECRET_KEY``
(`bot.store.sealed`). `InstallStore` is bolt's installation store over it, so bolt's
OAuth flow saves installs there; `OAuthStates` is bolt's state store (a state works once,
for ten minutes).

`WorkspaceTokens` gives the bot token of a team to everything that calls Slack: the
outbox deliverer, `/news`, `users.info` and `conversations.*`, DMs, `newsbot check`. It
keeps each workspace in this process for a few minutes, so a delivery costs no Redis
round trip after the first. With token rotation on (the app's setting), a token within
two hours of its expiry is traded for a new one; the refresh token works once, so one
process trades it under a lock in Redis while the others keep using the current token.
"""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, replace
from typing import Any

from redis.asyncio import Redis
from slack_sdk.errors import SlackApiError
from slack_sdk.oauth.installation_store import Bot, Installation
from slack_sdk.oauth.installation_store.async_installation_store import AsyncInstallationStore
from slack_sdk.oauth.state_store.async_state_store import AsyncOAuthStateStore
from slack_sdk.web.async_client import AsyncWebClient

from bot.store.keys import Keys
from bot.store.sealed import Sealer

log = logging.getLogger(__name__)

KEEP_SECONDS = 300.0  # how long this process reuses a workspace it read
REFRESH_BEFORE = 7200.0  # trade a rotating token this long before it expires
LOCK_SECONDS = 10
STATE_SECONDS = 600


class WorkspaceGone(Exception):
    """newsbot is not installed in this workspace (never, or no longer)."""

    def __init__(self, team: str) -> None:
        super().__init__(f"newsbot is not installed in Slack workspace {team}")
        self.team = team


@dataclass(frozen=True)
class Workspace:
    """One workspace's installation, as newsbot keeps it."""

    team_id: str
    bot_token: str
    bot_id: str = ""
    bot_user_id: str = ""
    bot_scopes: str = ""
    refresh_token: str = ""
    expires_at: float = 0.0  # 0: the token does not expire (no rotation)
    team_name: str = ""
    app_id: str = ""
    installer: str = ""
    installed_at: float = 0.0

    def due_for_refresh(self, now: float) -> bool:
        return bool(self.refresh_token and self.expires_at) and (
            self.expires_at - now < REFRESH_BEFORE
        )

    @classmethod
    def from_installation(cls, found: Installation | Bot) -> Workspace:
        expires = found.bot_token_expires_at
        installed = found.installed_at
        return cls(
            team_id=str(found.team_id or ""),
            bot_token=str(found.bot_token or ""),
            bot_id=str(found.bot_id or ""),
            bot_user_id=str(found.bot_user_id or ""),
            bot_scopes=",".join(found.bot_scopes or []),
            refresh_token=str(found.bot_refresh_token or ""),
            expires_at=float(expires) if expires else 0.0,
            team_name=str(found.team_name or ""),
            app_id=str(found.app_id or ""),
            installer=str(getattr(found, "user_id", "") or ""),
            installed_at=float(installed) if installed else time.time(),
        )

    def _shared(self) -> dict[str, Any]:
        return {
            "app_id": self.app_id or None,
            "team_id": self.team_id,
            "team_name": self.team_name or None,
            "bot_token": self.bot_token,
            "bot_id": self.bot_id or None,
            "bot_user_id": self.bot_user_id or None,
            "bot_scopes": self.bot_scopes,
            "bot_refresh_token": self.refresh_token or None,
            "bot_token_expires_at": int(self.expires_at) if self.expires_at else None,
            "installed_at": self.installed_at,
        }

    def to_installation(self) -> Installation:
        return Installation(user_id=self.installer, **self._shared())

    def to_bot(self) -> Bot:
        return Bot(**self._shared())


class InstallStore(AsyncInstallationStore):
    """Installations in Redis, one per team (the latest), sealed; bolt's store too."""

    def __init__(self, client: Redis, keys: Keys, sealer: Sealer) -> None:
        self._client = client
        self._keys = keys
        self._sealer = sealer
        self.reads = 0  # Redis round trips for installations (bench/slack.py)
        # Told the team of each install (a reinstall resumes its held channels).
        self.on_install: Callable[[str], Awaitable[object]] | None = None

    @property
    def logger(self) -> logging.Logger:
        return log

    async def get(self, team: str) -> Workspace | None:
        self.reads += 1
        sealed = await self._client.hget(self._keys.slack_installs, team)
        if sealed is None:
            return None
        return Workspace(**json.loads(self._sealer.open(str(sealed))))

    async def put(self, workspace: Workspace) -> None:
        sealed = self._sealer.seal(json.dumps(asdict(workspace)))
        async with self._client.pipeline(transaction=False) as pipe:
            pipe.hset(self._keys.slack_installs, workspace.team_id, sealed)
            pipe.hdel(self._keys.slack_uninstalled, workspace.team_id)
            await pipe.execute()

    async def remove(self, team: str, *, now: float) -> bool:
        """Forget the workspace's installation (uninstalled, or its tokens revoked) and
        note when; False when there was none."""
        async with self._client.pipeline(transaction=False) as pipe:
            pipe.hdel(self._keys.slack_installs, team)
            pipe.hset(self._keys.slack_uninstalled, team, str(int(now)))
            removed, _ = await pipe.execute()
        return bool(removed)

    async def all(self) -> list[Workspace]:
        sealed = await self._client.hvals(self._keys.slack_installs)
        found = [Workspace(**json.loads(self._sealer.open(str(s)))) for s in sealed]
        return sorted(found, key=lambda w: w.team_id)

    async def uninstalled(self) -> dict[str, float]:
        """Workspaces newsbot was uninstalled from and not reinstalled in, and when."""
        raw = await self._client.hgetall(self._keys.slack_uninstalled)
        return {str(team): float(when) for team, when in raw.items()}

    async def forget_uninstalled(self, team: str) -> None:
        await self._client.hdel(self._keys.slack_uninstalled, team)

    # bolt's AsyncInstallationStore ------------------------------------------------------

    async def async_save(self, installation: Installation) -> None:
        workspace = Workspace.from_installation(installation)
        await self.put(workspace)
        log.info(
            "newsbot was installed in a Slack workspace",
            extra={"team": workspace.team_id, "scopes": workspace.bot_scopes},
        )
        if self.on_install is not None:
            await self.on_install(workspace.team_id)

    async def async_save_bot(self, bot: Bot) -> None:
        known = await self.get(str(bot.team_id or ""))
        fresh = Workspace.from_installation(bot)
        await self.put(replace(fresh, installer=known.installer) if known else fresh)

    async def async_find_bot(
        self,
        *,
        enterprise_id: str | None,
        team_id: str | None,
        is_enterprise_install: bool | None = False,
    ) -> Bot | None:
        found = await self.get(team_id or "")
        return found.to_bot() if found else None

    async def async_find_installation(
        self,
        *,
        enterprise_id: str | None,
        team_id: str | None,
        user_id: str | None = None,
        is_enterprise_install: bool | None = False,
    ) -> Installation | None:
        found = await self.get(team_id or "")
        return found.to_installation() if found else None

    async def async_delete_bot(self, *, enterprise_id: str | None, team_id: str | None) -> None:
        await self.remove(team_id or "", now=time.time())

    async def async_delete_installation(
        self,
        *,
        enterprise_id: str | None,
        team_id: str | None,
        user_id: str | None = None,
    ) -> None:
        if user_id is None:  # the workspace's, not one member's
            await self.remove(team_id or "", now=time.time())

    async def async_delete_all(self, *, enterprise_id: str | None, team_id: str | None) -> None:
        await self.remove(team_id or "", now=time.time())


class OAuthStates(AsyncOAuthStateStore):
    """bolt's OAuth state store on Redis: a state works once, for ten minutes."""

    def __init__(self, client: Redis, keys: Keys, *, expiration: int = STATE_SECONDS) -> None:
        self._client = client
        self._keys = keys
        self._expiration = expiration

    @property
    def logger(self) -> logging.Logger:
        return log

    async def async_issue(self, *args: Any, **kwargs: Any) -> str:
        state = secrets.token_urlsafe(24)
        await self._client.set(self._keys.slack_oauth_state(state), "1", ex=self._expiration)
        return state

    async def async_consume(self, state: str) -> bool:
        if not state or len(state) > 200:
            return False
        return await self._client.getdel(self._keys.slack_oauth_state(state)) is not None


# Release a lock only if it is still this process's (it may have expired and been taken).
_UNLOCK = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


class WorkspaceTokens:
    """Each workspace's installation, read once per `KEEP_SECONDS` in this process, its
    token traded before it expires (one process at a time, under a lock in Redis)."""

    def __init__(
        self,
        store: InstallStore,
        client: Redis,
        keys: Keys,
        *,
        api_url: str,
        client_id: str,
        client_secret: str,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._store = store
        self._client = client
        self._keys = keys
        self._oauth = AsyncWebClient(base_url=api_url)
        self._client_id = client_id
        self._client_secret = client_secret
        self._clock = clock
        self._known: dict[str, tuple[Workspace, float]] = {}
        self._unlock = client.register_script(_UNLOCK)

    async def workspace(self, team: str) -> Workspace:
        """The team's installation with a usable token; `WorkspaceGone` when none."""
        now = self._clock()
        known = self._known.get(team)
        if known is None or now - known[1] > KEEP_SECONDS:
            found = await self._store.get(team)
            if found is None:
                self._known.pop(team, None)
                raise WorkspaceGone(team)
            known = (found, now)
            self._known[team] = known
        workspace = known[0]
        if workspace.due_for_refresh(now):
            workspace = await self._refresh(workspace)
            self._known[team] = (workspace, now)
        return workspace

    async def token(self, team: str) -> str:
        return (await self.workspace(team)).bot_token

    def forget(self, team: str) -> None:
        """Read the team's installation again next time (its token was refused)."""
        self._known.pop(team, None)

    async def _refresh(self, workspace: Workspace) -> Workspace:
        """The workspace with a fresh token: traded here under the lock, or by another
        process meanwhile. The current token serves while it has a minute left."""
        team = workspace.team_id
        lock, mine = self._keys.slack_refreshing(team), secrets.token_hex(8)
        for _ in range(LOCK_SECONDS * 10):
            if await self._client.set(lock, mine, nx=True, ex=LOCK_SECONDS):
                try:
                    current = await self._current(team)  # again, under the lock
                    if not current.due_for_refresh(self._clock()):
                        return current  # another process traded it just before
                    return await self._trade(current)
                finally:
                    await self._unlock(keys=[lock], args=[mine])
            current = await self._current(team)
            if not current.due_for_refresh(self._clock()):
                return current
            if current.expires_at - self._clock() > 60:
                return current  # still good; another process is trading it
            await asyncio.sleep(0.1)
        return workspace

    async def _current(self, team: str) -> Workspace:
        found = await self._store.get(team)
        if found is None:
            raise WorkspaceGone(team)
        return found

    async def _trade(self, workspace: Workspace) -> Workspace:
        try:
            answer = await self._oauth.oauth_v2_access(
                client_id=self._client_id,
                client_secret=self._client_secret,
                grant_type="refresh_token",
                refresh_token=workspace.refresh_token,
            )
        except SlackApiError as exc:
            log.error(
                "Slack refused to refresh a workspace's token",
                extra={"team": workspace.team_id, "error": str(exc.response.get("error"))},
            )
            return workspace
        fresh = replace(
            workspace,
            bot_token=str(answer["access_token"]),
            refresh_token=str(answer.get("refresh_token") or workspace.refresh_token),
            expires_at=self._clock() + float(answer.get("expires_in") or 0),
        )
        await self._store.put(fresh)
        log.info("refreshed a workspace's token", extra={"team": workspace.team_id})
        return fresh
