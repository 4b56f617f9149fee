"""Issue #21, item 11: the embedded Redis and newsbot live and die together. A killed
redis-server is restarted from its own data within seconds and what was queued is still
delivered; a killed newsbot takes the redis-server it started with it, and the next start
on the same data dir takes over cleanly."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from pathlib import Path

import redis

from tests.bot.cli.test_cli import cli_env
from tests.bot.platforms.slack_adapter.test_end_to_end import run_newsbot
from tests.bot.test_app import free_port, healthy, wait_for


async def start(tmp_path: Path, port: int) -> asyncio.subprocess.Process:
    env = cli_env(tmp_path, NEWSBOT_HTTP_PORT=str(port), NEWSBOT_POLL_INTERVAL="60")
    return await run_newsbot(tmp_path, env, stdout=asyncio.subprocess.PIPE)


def server(tmp_path: Path) -> redis.Redis:
    return redis.Redis(unix_socket_path=str(tmp_path / "data" / "redis" / "redis.sock"))


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


async def test_a_killed_redis_server_is_restarted_and_delivers_what_was_queued(
    tmp_path: Path,
) -> None:
    port = free_port()
    process = await start(tmp_path, port)
    try:
        await wait_for(healthy(port), timeout=30)
        before = server(tmp_path)
        pid = int(before.info("server")["process_id"])
        before.close()
        os.kill(pid, signal.SIGKILL)
        killed = time.monotonic()
        await asyncio.sleep(1.5)
        await wait_for(healthy(port), timeout=15)
        assert time.monotonic() - killed < 10, "restarted within 10 s"
        after = server(tmp_path)
        assert int(after.info("server")["process_id"]) != pid
        after.xadd(
            "newsbot:outbox:console",
            {
                "delivery": "console:local:main|notice|1",
                "channel": "console:local:main",
                "kind": "notice",
                "text": "still delivering after the restart",
            },
        )
        after.close()
        assert process.stdout is not None
        line = await asyncio.wait_for(process.stdout.readline(), timeout=15)
        assert b"still delivering after the restart" in line
    finally:
        process.send_signal(signal.SIGTERM)
        _out, err = await asyncio.wait_for(process.communicate(), timeout=30)
    assert process.returncode == 0, err.decode()[-2000:]
    assert b"restarting the embedded Redis from its data" in err


async def test_a_killed_newsbot_takes_its_redis_server_along(tmp_path: Path) -> None:
    port = free_port()
    process = await start(tmp_path, port)
    await wait_for(healthy(port), timeout=30)
    client = server(tmp_path)
    pid = int(client.info("server")["process_id"])
    client.set("newsbot:kept", "1")
    client.close()
    await asyncio.sleep(1.2)  # the append-only file is synced every second
    process.kill()
    await process.wait()
    deadline = time.monotonic() + 10
    while alive(pid) and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
    assert not alive(pid), "the redis-server did not outlive newsbot"
    again = await start(tmp_path, port)
    try:
        await wait_for(healthy(port), timeout=30)
        client = server(tmp_path)
        assert client.get("newsbot:kept") == b"1", "the next start takes over its data"
        client.close()
    finally:
        again.send_signal(signal.SIGTERM)
        _out, err = await asyncio.wait_for(again.communicate(), timeout=30)
    assert again.returncode == 0, err.decode()[-2000:]
