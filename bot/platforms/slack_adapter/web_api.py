"""The slack_sdk clients the adapter uses, both on `NEWSBOT_SLACK_API_URL`.

Calls that are safe to repeat (`auth.test`, `users.info`, `conversations.*`) retry on a
rate limit (honouring Retry-After) and on connection errors. `chat.postMessage` never
retries inside slack_sdk: the outbox decides, so its pace and delivery records hold.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
)
from slack_sdk.web.async_client import AsyncWebClient

from bot.platforms.slack_adapter.installs import WorkspaceGone, WorkspaceTokens
from bot.settings import Settings
from handlers.channels import ChannelRef

log = logging.getLogger(__name__)

TIMEOUT = 30


def api_client(settings: Settings) -> AsyncWebClient:
    """For calls that may be repeated: retries on 429 and on connection errors."""
    return _retrying(_token(settings), settings.slack_api_url)


def posting_client(settings: Settings) -> AsyncWebClient:
    """For `chat.postMessage` from the outbox: no retry of any kind inside slack_sdk."""
    return _once(_token(settings), settings.slack_api_url)


def _retrying(token: str, api_url: str) -> AsyncWebClient:
    return AsyncWebClient(
        token=token,
        base_url=api_url,
        timeout=TIMEOUT,
        retry_handlers=[
            AsyncRateLimitErrorRetryHandler(max_retry_count=2),
            AsyncConnectionErrorRetryHandler(max_retry_count=2),
        ],
    )


def _once(token: str, api_url: str) -> AsyncWebClient:
    return AsyncWebClient(token=token, base_url=api_url, timeout=TIMEOUT, retry_handlers=[])


def _token(settings: Settings) -> str:
    if settings.slack_bot_token is None:
        raise ValueError("SLACK_BOT_TOKEN is not set")
    return settings.slack_bot_token.reveal()


class SlackApis:
    """The Web API for each workspace. With one bot token, the same two clients serve
    every team; in OAuth mode, each workspace's clients carry its own token
    (`WorkspaceTokens`), made again when the token changes. `WorkspaceGone` when newsbot
    is not installed in the team."""

    def __init__(
        self,
        *,
        fixed: tuple[AsyncWebClient, AsyncWebClient] | None = None,
        tokens: WorkspaceTokens | None = None,
        api_url: str = "",
    ) -> None:
        if (fixed is None) == (tokens is None):
            raise ValueError("one bot token's clients, or the workspaces' tokens")
        self._fixed = fixed
        self._tokens = tokens
        self._api_url = api_url
        self._by_team: dict[str, tuple[str, AsyncWebClient, AsyncWebClient]] = {}

    @classmethod
    def of(cls, settings: Settings, tokens: WorkspaceTokens | None = None) -> SlackApis:
        if tokens is not None:
            return cls(tokens=tokens, api_url=settings.slack_api_url)
        return cls(fixed=(api_client(settings), posting_client(settings)))

    @classmethod
    def of_client(cls, client: AsyncWebClient) -> SlackApis:
        """One client for every call and team (tests)."""
        return cls(fixed=(client, client))

    @property
    def many(self) -> bool:
        """OAuth mode: a token per workspace."""
        return self._tokens is not None

    async def api(self, team: str) -> AsyncWebClient:
        """For calls that may be repeated (retries on 429 and connection errors)."""
        return (await self._clients(team))[0]

    async def posting(self, team: str) -> AsyncWebClient:
        """For `chat.postMessage` from the outbox: no retry inside slack_sdk."""
        return (await self._clients(team))[1]

    def refused(self, team: str) -> None:
        """Slack refused the team's token: read its installation again next time."""
        if self._tokens is not None:
            self._tokens.forget(team)

    async def _clients(self, team: str) -> tuple[AsyncWebClient, AsyncWebClient]:
        if self._fixed is not None:
            return self._fixed
        assert self._tokens is not None
        token = await self._tokens.token(team)
        known = self._by_team.get(team)
        if known is None or known[0] != token:
            retrying, once = _retrying(token, self._api_url), _once(token, self._api_url)
            known = (token, retrying, once)
            self._by_team[team] = known
        return known[1], known[2]


class SlackMembers:
    """`conversations.members`, page by page: who is in a channel (`MemberLister`)."""

    platform = "slack"

    def __init__(self, apis: SlackApis) -> None:
        self._apis = apis

    async def members(self, channel: ChannelRef, users: Sequence[str]) -> set[str] | None:
        found: set[str] = set()
        cursor = ""
        try:
            api = await self._apis.api(channel.workspace)
            while True:
                page = await api.conversations_members(
                    channel=channel.channel, limit=1000, cursor=cursor or None
                )
                found.update(str(u) for u in page.get("members") or [])
                cursor = str((page.get("response_metadata") or {}).get("next_cursor") or "")
                if not cursor:
                    return found
        except WorkspaceGone:
            return None
        except SlackApiError as exc:
            error = exc.response.get("error", "") if exc.response is not None else ""
            log.info(
                "cannot list a channel's members",
                extra={"channel": str(channel), "error": str(error)},
            )
            return None
