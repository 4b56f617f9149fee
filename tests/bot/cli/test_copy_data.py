"""`newsbot copy-data --to URL`: a single Redis's data moves into a Redis Cluster, and the
bot finds it all there; a second run is safe (issue #23)."""

from __future__ import annotations

from pathlib import Path

from tests.bot.cli.test_cli import cli_env, newsbot
from tests.bot.commands.test_core import feed
from tests.fakes.feed_server import FeedServer
from tests.fakes.redis_cluster import PrivateCluster
from tests.fakes.redis_server import PrivateRedis


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
    typed = f"/news subscribe {url}\n/news alert add story\n".encode()
    code, out, err = await newsbot("console", env=single, stdin=typed)
    assert code == 0 and "found 4 stories" in out, out + err
    source_keys = {str(k) for k in redis_server.client().scan_iter("newsbot:*")}
    ttls = {k: redis_server.client().ttl(k) for k in source_keys}

    code, out, err = await newsbot("copy-data", "--to", redis_cluster.url, env=single)
    assert code == 0, err
    assert f"copied {len(source_keys)} keys" in out
    assert "Redis Cluster, 3 masters" in err
    code, out, _err = await newsbot("copy-data", "--to", redis_cluster.url, env=single)
    assert code == 0 and f"copied {len(source_keys)} keys" in out

    assert cluster_keys(redis_cluster) == source_keys
    moved = redis_cluster.client()
    for key, ttl in ttls.items():
        if ttl > 0:
            assert abs(moved.ttl(key) - ttl) <= 5, f"{key} keeps its time to live"
    on_cluster = cli_env(tmp_path, NEWSBOT_REDIS_URL=redis_cluster.url)
    typed = b"/news feeds\n/news search story\n/news alert list\n"
    code, out, err = await newsbot("console", env=on_cluster, stdin=typed)
    assert code == 0, err
    assert "f1" in out and "Stories matching 'story'" in out
    assert "a1" in out, "the alert came along"


async def test_copy_data_refuses_its_own_redis_and_an_unreachable_target(
    tmp_path: Path, redis_server: PrivateRedis
) -> None:
    env = cli_env(tmp_path, NEWSBOT_REDIS_URL=redis_server.url)
    code, _out, err = await newsbot("copy-data", "--to", redis_server.url, env=env)
    assert code == 2 and "already uses" in err
    code, _out, err = await newsbot("copy-data", "--to", "redis://127.0.0.1:1", env=env)
    assert code == 1 and "cannot reach Redis at redis://127.0.0.1:1" in err
