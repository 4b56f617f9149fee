"""The slack_sdk clients the adapter uses, both on `NEWSBOT_SLACK_API_URL`.

Calls that are safe to repeat (`auth.test`, `users.info`, `conversations.*`) retry on a
rate limit (honouring Retry-After) and on connection errors. `chat.postMessage` never
retries inside slack_sdk: the outbox decides, so its pace and delivery records hold.
"""

from __future__ import annotations

from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
)
from slack_sdk.web.async_client import AsyncWebClient

from bot.settings import Settings

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
