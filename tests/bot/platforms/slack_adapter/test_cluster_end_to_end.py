"""`newsbot run` on a 3-master Redis Cluster, the whole way: poll, pipeline, instant posts,
a digest, `/news search`, then the console searching the same data, and `newsbot check`
saying what it runs on (issue #23)."""

from __future__ import annotations

import json
from pathlib import Path

from tests.bot.cli.test_cli import cli_env, newsbot
from tests.bot.platforms.slack_adapter.conftest import (
    SECRET,
    post,
    signed,
    slash,
    wait_for_responses,
)
from tests.bot.platforms.slack_adapter.test_end_to_end import (
    config,
    feed,
    run_newsbot,
    stop,
    until,
)
from tests.bot.test_app import free_port
from tests.fakes.feed_server import FeedServer
from tests.fakes.redis_cluster import PrivateCluster
from tests.fakes.slack_api import FakeSlack


async def test_newsbot_runs_on_a_redis_cluster(
    tmp_path: Path, slack: FakeSlack, feed_server: FeedServer, redis_cluster: PrivateCluster
) -> None:
    redis_cluster.flush()
    url = feed_server.add("/wire.xml", feed())
    port = free_port()
    env = cli_env(
        tmp_path,
        NEWSBOT_REDIS_URL=redis_cluster.url,
        NEWSBOT_CONFIG=str(config(tmp_path, url, schedule="daily 07:00")),
        NEWSBOT_POLL_INTERVAL="0.5",
        NEWSBOT_HTTP_PORT=str(port),
        SLACK_BOT_TOKEN="xoxb-test",
        SLACK_SIGNING_SECRET=SECRET,
        NEWSBOT_SLACK_API_URL=slack.api_url,
    )
    events = f"http://127.0.0.1:{port}/slack/events"
    process = await run_newsbot(tmp_path, env)
    try:
        await until(lambda: len(slack.posts("C1")) >= 3, timeout=30)
        body = slash("digest", slack, name="digest", channel="C2")
        assert (await post(events, body, signed(body)))[0] == 200
        await until(lambda: len(slack.posts("C2")) >= 1, timeout=30)
        body = slash("search harbour", slack, name="search")
        assert (await post(events, body, signed(body)))[0] == 200
        await wait_for_responses(slack, 2)
    finally:
        log = await stop(process)
    assert "Redis Cluster, 3 masters" in log
    titles = [json.dumps(p["blocks"]) for p in slack.posts("C1")]
    assert len(titles) == 3 and "Story 3" in titles[0] and "Story 1" in titles[-1]
    [digest] = slack.posts("C2")
    assert all(f"Story {n}" in json.dumps(digest["blocks"]) for n in range(1, 4))
    [found] = [r for r in slack.responses if "Story" in json.dumps(r)]
    assert all(f"Story {n}" in json.dumps(found) for n in range(1, 4))
    per_master = {port: redis_cluster.node(port).dbsize() for port in redis_cluster.primaries()}
    assert all(keys > 0 for keys in per_master.values()), f"keys on each master: {per_master}"

    on_cluster = cli_env(tmp_path, NEWSBOT_REDIS_URL=redis_cluster.url)
    typed = f"/news subscribe {url}\n/news search harbour\n".encode()
    code, out, err = await newsbot("console", env=on_cluster, stdin=typed)
    assert code == 0, err
    answer = out.split("Stories matching 'harbour'")[-1]
    assert all(f"Story {n}: harbour" in answer for n in range(1, 4)), out
    _code, out, _err = await newsbot("check", env=on_cluster)
    assert "redis: ok, Redis Cluster, 3 masters" in out, out
