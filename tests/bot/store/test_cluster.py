"""What only a Redis Cluster can show: scripts a primary lost are loaded again, the
indexes spread over the masters by day, and a one-shot digest cleans up on every node
(issue #23)."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from pathlib import Path

from redis.asyncio.cluster import RedisCluster

from bot.roles.routing import _ROUTE
from bot.store.connection import open_redis
from bot.store.fold_index import RedisStoryIndex
from bot.store.keys import Keys
from handlers.folding import IndexEntry
from tests.bot.cli.test_cli import cli_env, newsbot, two_outlets
from tests.conftest import make_settings
from tests.fakes.feed_server import FeedServer
from tests.fakes.redis_cluster import PrivateCluster

DAY = datetime(2026, 12, 4, 12, tzinfo=UTC)


def entry(story: str, when: datetime) -> IndexEntry:
    return IndexEntry(story_id=story, when=when, keys=("b1234", "b5678", "t9012"))


async def test_scripts_a_primary_lost_are_loaded_again(
    tmp_path: Path, redis_cluster: PrivateCluster
) -> None:
    redis_cluster.flush()
    settings = make_settings(tmp_path, NEWSBOT_REDIS_URL=redis_cluster.url)
    async with open_redis(settings) as handle:
        assert isinstance(handle.client, RedisCluster) and handle.cluster_masters == 3
        index = RedisStoryIndex(handle.client, handle.keys, clock=DAY.timestamp)
        await index.remember([entry("s1", DAY)])
        for port in redis_cluster.primaries():  # as a restarted or new primary would be
            redis_cluster.node(port).script_flush()
        await index.remember([entry("s2", DAY + timedelta(days=1))])
        found = await index.candidates([entry("s3", DAY)])
        assert found == [{"s1", "s2"}]


async def test_the_fold_index_spreads_over_the_masters_by_day(
    tmp_path: Path, redis_cluster: PrivateCluster
) -> None:
    redis_cluster.flush()
    settings = make_settings(tmp_path, NEWSBOT_REDIS_URL=redis_cluster.url)
    now = DAY + timedelta(days=20)
    async with open_redis(settings) as handle:
        index = RedisStoryIndex(handle.client, handle.keys, clock=now.timestamp)
        await index.remember([entry(f"s{n}", now - timedelta(days=n % 4)) for n in range(40)])
    keys = Keys()
    tags = {keys.fold_index((now - timedelta(days=d)).strftime("%Y%m%d"), "b34") for d in range(4)}
    owners = {redis_cluster.owner_of(key) for key in tags}
    assert len(owners) >= 2, "four days' indexes are not all on one master"


async def test_a_one_shot_digest_leaves_no_key_on_any_node(
    tmp_path: Path, feed_server: FeedServer, redis_cluster: PrivateCluster
) -> None:
    redis_cluster.flush()
    first, second = two_outlets(feed_server)
    env = cli_env(tmp_path, NEWSBOT_REDIS_URL=redis_cluster.url)
    code, out, err = await newsbot("digest", first, second, "--format", "json", env=env)
    assert code == 0, err
    assert '"entries": 4' in out
    left = [k for port in redis_cluster.primaries() for k in redis_cluster.node(port).keys("*")]
    assert left == [], "throwaway keys removed from every master"


async def test_every_script_is_on_every_primary_from_the_start(
    tmp_path: Path, redis_cluster: PrivateCluster
) -> None:
    redis_cluster.flush()
    settings = make_settings(tmp_path, NEWSBOT_REDIS_URL=redis_cluster.url)
    async with open_redis(settings):
        pass
    route = hashlib.sha1(_ROUTE.encode(), usedforsecurity=False).hexdigest()
    for port in redis_cluster.primaries():
        assert redis_cluster.node(port).script_exists(route) == [True], port
