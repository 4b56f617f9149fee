"""A master of a Redis Cluster dies while `newsbot run` posts: its replica takes over, the
client follows MOVED, and no story is posted twice or lost (issue #23).

Three masters with a replica each. Stories arrive one every 0.3 s for four instant
channels; a few seconds in, the master holding the outbox stream is killed (kill -9).
Replication is asynchronous, so a failover could lose acknowledged writes: the sent
record and the hand-off onto the outbox stream wait for a replica, and this test counts
every story each channel got.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.articles import rss
from tests.bot.cli.test_cli import cli_env
from tests.bot.platforms.slack_adapter.test_end_to_end import run_newsbot, stop, until
from tests.bot.test_app import free_port
from tests.fakes.feed_server import FeedServer
from tests.fakes.redis_cluster import PrivateCluster
from tests.fakes.slack_api import FakeSlack

log = logging.getLogger(__name__)

CHANNELS = ("C1", "C2", "C3", "C4")
STORIES = 40
KILL_AT = 12
WORDS = [
    *("harbour", "ferry", "glacier", "senate", "orchard", "comet", "violin", "bakery"),
    *("tunnel", "meadow", "lantern", "quarry", "falcon", "canyon", "reactor", "pottery"),
    *("vineyard", "satellite", "monsoon", "archive"),
]


@pytest.fixture
def replicated_cluster(tmp_path: Path) -> Iterator[PrivateCluster]:
    cluster = PrivateCluster(tmp_path / "cluster", masters=3, replicas=1)
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.stop()


def story(n: int) -> dict[str, object]:
    first, second = WORDS[n % len(WORDS)], WORDS[(n * 7 + 3) % len(WORDS)]
    return {
        "title": f"Bulletin {n}: {first} {second} update number {n}",
        "link": f"https://wire.example/b{n}",
        "guid": f"b{n}",
        "published": datetime.now(UTC) - timedelta(seconds=STORIES - n),
        "description": f"Bulletin {n} on the {first} and the {second}. Details follow.",
    }


def bulletins(count: int) -> str:
    return rss("Wire", [story(n) for n in range(count, 0, -1)])


def got(slack: FakeSlack, channel: str) -> Counter[int]:
    """How many times each bulletin reached the channel (a post may carry several)."""
    seen: Counter[int] = Counter()
    for message in slack.accepted_posts(channel):
        shown = json.dumps(message.get("blocks", "")) + str(message.get("text", ""))
        seen.update({int(n) for n in re.findall(r"wire\.example/b(\d+)", shown)})
    return seen


async def test_a_killed_master_doubles_and_loses_nothing(
    tmp_path: Path,
    slack: FakeSlack,
    feed_server: FeedServer,
    replicated_cluster: PrivateCluster,
) -> None:
    url = feed_server.add("/wire.xml", bulletins(1))
    config = tmp_path / "newsbot.toml"
    config.write_text(
        "".join(
            f'[[channels]]\nid = "slack:T1:{c}"\n'
            f'[[channels.feeds]]\nurl = "{url}"\nmode = "instant"\n'
            for c in CHANNELS
        )
    )
    env = cli_env(
        tmp_path,
        NEWSBOT_REDIS_URL=replicated_cluster.url,
        NEWSBOT_CONFIG=str(config),
        NEWSBOT_POLL_INTERVAL="0.3",
        NEWSBOT_HTTP_PORT=str(free_port()),
        SLACK_BOT_TOKEN="xoxb-test",
        SLACK_SIGNING_SECRET="s",
        NEWSBOT_SLACK_API_URL=slack.api_url,
    )
    process = await run_newsbot(tmp_path, env)
    try:
        await until(lambda: all(got(slack, c)[1] for c in CHANNELS), timeout=30)
        victim = replicated_cluster.owner_of("newsbot:outbox:slack")
        for n in range(2, STORIES + 1):
            feed_server.add("/wire.xml", bulletins(n))
            if n == KILL_AT:
                replicated_cluster.kill(victim)
            await asyncio.sleep(0.3)
        replicated_cluster.wait_ok(timeout=30)
        assert replicated_cluster.owner_of("newsbot:outbox:slack") != victim, "failed over"

        def settled() -> bool:
            return all(set(got(slack, c)) >= set(range(1, STORIES + 1)) for c in CHANNELS)

        with contextlib.suppress(AssertionError):  # what is missing is counted below
            await until(settled, timeout=60)
    finally:
        err = await stop(process)
    doubled = {c: sorted(n for n, k in got(slack, c).items() if k > 1) for c in CHANNELS}
    lost = {c: sorted(set(range(1, STORIES + 1)) - set(got(slack, c))) for c in CHANNELS}
    log.warning("failover: doubled %s, lost %s", doubled, lost)
    assert not any(doubled.values()), f"doubled: {doubled}\n{err[-3000:]}"
    assert not any(lost.values()), f"lost: {lost}\n{err[-3000:]}"
