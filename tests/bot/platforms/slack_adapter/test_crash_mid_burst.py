"""Issue #21, item 11: newsbot SIGKILLed in the middle of a paced three-part digest. After
the restart, part 1 is not posted again (each part is recorded as Slack accepts it) and
parts 2 and 3 follow within about NEWSBOT_CLAIM_IDLE, not when a two-minute lease lapses."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

from bot.store.connection import RedisHandle
from tests.bot.cli.test_cli import cli_env
from tests.bot.platforms.outbox_helpers import queue, stories
from tests.bot.platforms.slack_adapter.conftest import SECRET
from tests.bot.platforms.slack_adapter.test_end_to_end import run_newsbot, stop, until
from tests.bot.test_app import free_port
from tests.fakes.slack_api import FakeSlack

CLAIM_IDLE = 3.0


def chat_env(tmp_path: Path, slack: FakeSlack, redis_url: str) -> dict[str, str]:
    return cli_env(
        tmp_path,
        NEWSBOT_REDIS_URL=redis_url,
        NEWSBOT_HTTP_PORT=str(free_port()),
        NEWSBOT_CLAIM_IDLE=str(CLAIM_IDLE),
        SLACK_BOT_TOKEN="xoxb-test",
        SLACK_SIGNING_SECRET=SECRET,
        NEWSBOT_SLACK_API_URL=slack.api_url,
    )


async def test_a_kill_mid_burst_neither_repeats_a_part_nor_delays_the_rest(
    tmp_path: Path, slack: FakeSlack, redis_url: str, handle: RedisHandle
) -> None:
    ids = await stories(handle, [f"Story number {n} with a longer title" for n in range(60)])
    await queue(
        handle, "slack:T1:C1", "big", kind="digest", heading="Digest", stories=json.dumps(ids)
    )
    env = chat_env(tmp_path, slack, redis_url)
    first = await run_newsbot(tmp_path, env)
    await until(lambda: len(slack.accepted_posts("C1")) >= 1, timeout=30)
    await asyncio.sleep(0.3)  # part 1 recorded; part 2 waits for the channel's pace
    first.kill()
    await first.wait()
    assert len(slack.accepted_posts("C1")) == 1
    restarted = time.monotonic()
    second = await run_newsbot(tmp_path, env)
    try:
        await until(lambda: len(slack.accepted_posts("C1")) >= 3, timeout=30)
        took = time.monotonic() - restarted
        await asyncio.sleep(1.5)
    finally:
        await stop(second)
    texts = [p["text"] for p in slack.accepted_posts("C1")]
    assert texts == [f"Digest (60 stories, part {n} of 3)" for n in (1, 2, 3)]
    assert took < 2 * CLAIM_IDLE + 8, f"the rest came {took:.1f} s after the restart"
