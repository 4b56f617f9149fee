"""Slack OAuth mode: "Add to Slack" on newsbot's own HTTP server, and each request
authorized with its workspace's token.

When ``SLACK_CLIENT_ID``, ``SLACK_CLIENT_SECRET`` and ``SLACK_STATE_SECRET`` are set,
`newsbot run` serves ``GET /slack/install`` (bolt's "Add to Slack" page, which sets a
state cookie) and ``GET /slack/oauth_redirect`` (where Slack sends the installer back:
the state is checked against the cookie and used once, the code traded for the
workspace's token, the installation saved sealed in Redis). Organisation-wide installs
are out of scope: a channel's workspace is its team id.

A state is random and signed with ``SLACK_STATE_SECRET``: a forged one is refused before
Redis is asked, and a real one works once, for ten minutes (`OAuthStates`).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from redis.asyncio import Redis
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_bolt.async_app import AsyncApp, AsyncBoltContext
from slack_bolt.authorization import AuthorizeResult
from slack_bolt.authorization.async_authorize import AsyncAuthorize
from slack_bolt.oauth.async_oauth_settings import AsyncOAuthSettings

from bot.platforms.slack_adapter.installs import (
    InstallStore,
    OAuthStates,
    WorkspaceGone,
    WorkspaceTokens,
)
from bot.settings import Settings
from bot.store.keys import Keys
from bot.store.sealed import Sealer

log = logging.getLogger(__name__)

# What the app asks for in each workspace (slack/manifest.yml lists the same).
SCOPES = ("commands", "chat:write", "channels:read", "groups:read", "im:write", "users:read")
NOT_INSTALLED = (
    "newsbot is not installed in this workspace (any more). A workspace admin can add it "
    "again from newsbot's /slack/install page."
)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class SignedStates(OAuthStates):
    """OAuth states signed with ``SLACK_STATE_SECRET``, each used once."""

    def __init__(self, client: Redis, keys: Keys, *, secret: str) -> None:
        super().__init__(client, keys)
        self._secret = secret.encode()

    def _signature(self, state: str) -> str:
        return hmac.new(self._secret, state.encode(), hashlib.sha256).hexdigest()[:32]

    async def async_issue(self, *args: Any, **kwargs: Any) -> str:
        state = await super().async_issue()
        return f"{state}.{self._signature(state)}"

    async def async_consume(self, state: str) -> bool:
        raw, _, signature = (state or "").partition(".")
        if not hmac.compare_digest(signature, self._signature(raw)):
            return False
        return await super().async_consume(raw)


class WorkspaceAuthorize(AsyncAuthorize):
    """bolt's authorization from newsbot's installations: no `auth.test` per request."""

    def __init__(self, tokens: WorkspaceTokens) -> None:
        self._tokens = tokens

    async def __call__(
        self,
        *,
        context: AsyncBoltContext,
        enterprise_id: str | None,
        team_id: str | None,
        user_id: str | None,
        **_actor: Any,
    ) -> AuthorizeResult | None:
        try:
            workspace = await self._tokens.workspace(team_id or "")
        except WorkspaceGone:
            return None
        return AuthorizeResult(
            enterprise_id=enterprise_id,
            team_id=team_id,
            bot_token=workspace.bot_token,
            bot_id=workspace.bot_id,
            bot_user_id=workspace.bot_user_id,
            bot_scopes=[s for s in workspace.bot_scopes.split(",") if s],
            user_id=user_id,
        )


@dataclass(frozen=True)
class OAuth:
    """Everything OAuth mode adds: the installations, the states, the tokens."""

    settings: Settings
    store: InstallStore
    states: OAuthStates
    tokens: WorkspaceTokens

    @classmethod
    def of(cls, settings: Settings, client: Redis, keys: Keys) -> OAuth | None:
        """OAuth mode's pieces, or None with one bot token (settings checked both)."""
        if not settings.slack_oauth:
            return None
        assert settings.secret_key is not None and settings.slack_client_secret is not None
        assert settings.slack_state_secret is not None and settings.slack_client_id is not None
        store = InstallStore(client, keys, Sealer(settings.secret_key.reveal()))
        tokens = WorkspaceTokens(
            store,
            client,
            keys,
            api_url=settings.slack_api_url,
            client_id=settings.slack_client_id,
            client_secret=settings.slack_client_secret.reveal(),
        )
        states = SignedStates(client, keys, secret=settings.slack_state_secret.reveal())
        return cls(settings=settings, store=store, states=states, tokens=tokens)

    async def gone(self, team: str, why: str) -> None:
        """newsbot was uninstalled from the workspace (or its token revoked): forget the
        installation. Its channels are held as their deliveries come (the workspace is
        gone), resumed by a reinstall, and removed after NEWSBOT_REFUSED_CHANNEL_DAYS."""
        removed = await self.store.remove(team, now=time.time())
        self.tokens.forget(team)
        log.warning(
            "newsbot left a Slack workspace; its deliveries are held until a reinstall",
            extra={"team": team, "why": why, "had_installation": removed},
        )

    def listen(
        self,
        app: AsyncApp,
        *,
        resumed: Callable[[str], Awaitable[object]],
        handled: Callable[[dict[str, Any]], Awaitable[None]],
    ) -> None:
        """OAuth mode's events on `app`: a workspace that uninstalls newsbot, or revokes
        its bot token, is gone; a reinstall calls `resumed` with its team. `handled` marks
        an event run once it has."""
        self.store.on_install = resumed

        @app.event("app_uninstalled")
        async def uninstalled(body: dict[str, Any], context: AsyncBoltContext) -> None:
            await self.gone(str(body.get("team_id") or context.team_id or ""), "uninstalled")
            await handled(body)

        @app.event("tokens_revoked")
        async def revoked(
            event: dict[str, Any], body: dict[str, Any], context: AsyncBoltContext
        ) -> None:
            if (event.get("tokens") or {}).get("bot"):
                team = str(body.get("team_id") or context.team_id or "")
                await self.gone(team, "its bot token revoked")
            await handled(body)

    def app_options(self) -> dict[str, Any]:
        """What bolt's AsyncApp takes for OAuth mode."""
        settings = self.settings
        assert settings.slack_client_id is not None and settings.slack_client_secret is not None
        return {
            "oauth_settings": AsyncOAuthSettings(
                client_id=settings.slack_client_id,
                client_secret=settings.slack_client_secret.reveal(),
                scopes=list(SCOPES),
                redirect_uri=f"{settings.page_url}/slack/oauth_redirect",
                authorization_url=settings.slack_authorize_url,
                installation_store=self.store,
                state_store=self.states,
            ),
            "authorize": WorkspaceAuthorize(self.tokens),
            "user_facing_authorize_error_message": NOT_INSTALLED,
        }


def oauth_routes(app: AsyncApp) -> dict[str, Handler]:
    """``GET /slack/install`` and ``GET /slack/oauth_redirect``, through bolt's flow."""
    flow = app.oauth_flow
    assert flow is not None, "an AsyncApp built with OAuth settings"

    async def install(request: web.Request) -> web.StreamResponse:
        return await to_aiohttp_response(
            await flow.handle_installation(await to_bolt_request(request))
        )

    async def redirect(request: web.Request) -> web.StreamResponse:
        return await to_aiohttp_response(await flow.handle_callback(await to_bolt_request(request)))

    return {flow.install_path: install, flow.redirect_uri_path: redirect}
