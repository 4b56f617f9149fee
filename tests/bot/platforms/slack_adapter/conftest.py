"""The fake Slack every Slack test talks to, and what the tests share."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

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
