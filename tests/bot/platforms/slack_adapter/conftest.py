"""The fake Slack every Slack test talks to, and what the tests share."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import aiohttp
import pytest

from bot.settings import Settings
from tests.bot.test_app import free_port
from tests.conftest import make_settings
from tests.fakes.slack_api import FakeSlack

SECRET = "8f742231b10e8888abcd99yyyzzz85a5"


@pytest.fixture
async def slack() -> AsyncIterator[FakeSlack]:
    """A fake Slack; every call newsbot made must be one Slack accepts (`problems`)."""
    fake = FakeSlack(admins={"UADMIN"})
    await fake.start()
    yield fake
    await fake.stop()
    assert fake.problems == []


async def wait_for_responses(slack: FakeSlack, count: int) -> None:
    for _ in range(300):
        if len(slack.responses) >= count:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"{len(slack.responses)} responses, expected {count}")


def signed(body: str, *, secret: str = SECRET, age: float = 0.0) -> dict[str, str]:
    stamp = str(int(time.time() - age))
    digest = hmac.new(secret.encode(), f"v0:{stamp}:{body}".encode(), hashlib.sha256)
    return {
        "X-Slack-Request-Timestamp": stamp,
        "X-Slack-Signature": f"v0={digest.hexdigest()}",
        "Content-Type": "application/x-www-form-urlencoded",
    }


def slash(
    text: str,
    slack: FakeSlack,
    *,
    user: str = "UADMIN",
    name: str = "1",
    channel: str = "C1",
    team: str = "T1",
) -> str:
    return urlencode(
        {
            "command": "/news",
            "text": text,
            "team_id": team,
            "channel_id": channel,
            "user_id": user,
            "response_url": slack.response_url(name),
            "trigger_id": "1.2.3",
            "token": "legacy",
        }
    )


def action_form(payload: dict[str, Any]) -> str:
    """A `block_actions` payload as Slack posts it in HTTP mode: one form field."""
    return urlencode({"payload": json.dumps(payload)})


async def post(url: str, body: str, headers: dict[str, str]) -> tuple[int, str]:
    """POST a slash command body as Slack does; the status and text of the answer (the ack)."""
    async with aiohttp.ClientSession() as http, http.post(url, data=body, headers=headers) as r:
        return r.status, await r.text()


def socket_mode_settings(
    settings: Settings, tmp_path: Path, slack: FakeSlack, **extra: str
) -> Settings:
    """A bot on the fake Slack in Socket Mode (the signing secret set too: Socket Mode wins)."""
    return make_settings(
        tmp_path,
        NEWSBOT_REDIS_URL=settings.redis_url.reveal() if settings.redis_url else "",
        NEWSBOT_HTTP_PORT=str(free_port()),
        SLACK_BOT_TOKEN="xoxb-test",
        SLACK_APP_TOKEN="xapp-test",
        SLACK_SIGNING_SECRET=SECRET,
        NEWSBOT_SLACK_API_URL=slack.api_url,
        **extra,
    )


async def socket_opened(slack: FakeSlack) -> None:
    for _ in range(200):
        if slack.sockets:
            return
        await asyncio.sleep(0.05)
    raise AssertionError("newsbot never opened the Socket Mode connection")
