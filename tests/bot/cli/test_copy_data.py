"""`newsbot copy-data --to URL`: a single Redis's data moves into a Redis Cluster, and the
bot finds it all there; a second run is safe (issue #23)."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

from tests.bot.cli.test_cli import cli_env
from tests.bot.commands.test_core import feed
from tests.fakes.feed_server import FeedServer
from tests.fakes.redis_cluster import PrivateCluster
from tests.fakes.redis_server import PrivateRedis


async def newsbot(
    env: dict[str, str], *args: str, stdin: str = ""
) -> subprocess.CompletedProcess[str]:
    """Run newsbot in a thread, so the test's feed server keeps answering meanwhile."""
    return await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "bot", *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )


def cluster_keys(cluster: PrivateCluster) -> set[str]:
    return {
        str(key)
        for port in cluster.primaries()
        for key in cluster.node(port).scan_iter("newsbot:*")
    }


async def test_copy_data_moves_a_single_redis_into_a_cluster(
    tmp_path: Path,
    feed_server: FeedServer,
    redis_server: PrivateRedis,
    redis_cluster: PrivateCluster,
) -> None:
    redis_server.client().flushall()
    redis_cluster.flush()
    url = feed_server.add("/daily.xml", feed(4))
    single = cli_env(tmp_path, NEWSBOT_REDIS_URL=redis_server.url)
    made = await newsbot(single, "console", stdin=f"/news subscribe {url}\n/news alert add story\n")
    assert made.returncode == 0 and "found 4 stories" in made.stdout, made.stdout + made.stderr
    source_keys = {str(k) for k in redis_server.client().scan_iter("newsbot:*")}
    ttls = {k: redis_server.client().ttl(k) for k in source_keys}

    first = await newsbot(single, "copy-data", "--to", redis_cluster.url)
    assert first.returncode == 0, first.stderr
    assert f"copied {len(source_keys)} keys" in first.stdout
    assert "Redis Cluster, 3 masters" in first.stderr
    again = await newsbot(single, "copy-data", "--to", redis_cluster.url)
    assert again.returncode == 0 and f"copied {len(source_keys)} keys" in again.stdout

    assert cluster_keys(redis_cluster) == source_keys
    moved = redis_cluster.client()
    for key, ttl in ttls.items():
        if ttl > 0:
            assert abs(moved.ttl(key) - ttl) <= 5, f"{key} keeps its time to live"
    on_cluster = cli_env(tmp_path, NEWSBOT_REDIS_URL=redis_cluster.url)
    used = await newsbot(
        on_cluster, "console", stdin="/news feeds\n/news search story\n/news alert list\n"
    )
    assert used.returncode == 0, used.stderr
    assert "f1" in used.stdout and "Stories matching 'story'" in used.stdout
    assert "a1" in used.stdout, "the alert came along"


async def test_copy_data_refuses_its_own_redis_and_an_unreachable_target(
    tmp_path: Path, redis_server: PrivateRedis
) -> None:
    env = cli_env(tmp_path, NEWSBOT_REDIS_URL=redis_server.url)
    same = await newsbot(env, "copy-data", "--to", redis_server.url)
    assert same.returncode == 2 and "already uses" in same.stderr
    gone = await newsbot(env, "copy-data", "--to", "redis://127.0.0.1:1")
    assert gone.returncode == 1 and "cannot reach Redis at redis://127.0.0.1:1" in gone.stderr
