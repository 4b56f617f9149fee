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

from bot.settings import Settings
from handlers.channels import ChannelRef

log = logging.getLogger(__name__)

TIMEOUT = 30


def api_client(settings: Settings) -> AsyncWebClient:
    """For calls that may be repeated: retries on 429 and on connection errors."""
    return AsyncWebClient(
        token=_token(settings),
        base_url=settings.slack_api_url,
        timeout=TIMEOUT,
        retry_handlers=[
            AsyncRateLimitErrorRetryHandler(max_retry_count=2),
            AsyncConnectionErrorRetryHandler(max_retry_count=2),
        ],
    )


def posting_client(settings: Settings) -> AsyncWebClient:
    """For `chat.postMessage` from the outbox: no retry of any kind inside slack_sdk."""
    return AsyncWebClient(
        token=_token(settings), base_url=settings.slack_api_url, timeout=TIMEOUT, retry_handlers=[]
    )


def _token(settings: Settings) -> str:
    if settings.slack_bot_token is None:
        raise ValueError("SLACK_BOT_TOKEN is not set")
    return settings.slack_bot_token.reveal()


class SlackMembers:
    """`conversations.members`, page by page: who is in a channel (`MemberLister`)."""

    platform = "slack"

    def __init__(self, api: AsyncWebClient) -> None:
        self._api = api

    async def members(self, channel: ChannelRef, users: Sequence[str]) -> set[str] | None:
        found: set[str] = set()
        cursor = ""
        try:
            while True:
                page = await self._api.conversations_members(
                    channel=channel.channel, limit=1000, cursor=cursor or None
                )
                found.update(str(u) for u in page.get("members") or [])
                cursor = str((page.get("response_metadata") or {}).get("next_cursor") or "")
                if not cursor:
                    return found
        except SlackApiError as exc:
            error = exc.response.get("error", "") if exc.response is not None else ""
            log.info(
                "cannot list a channel's members",
                extra={"channel": str(channel), "error": str(error)},
            )
            return None
