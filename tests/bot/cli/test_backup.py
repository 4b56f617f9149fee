"""`newsbot backup` while `newsbot run` runs, and `newsbot restore` into a new data dir
that `newsbot run` then starts from (issue #15)."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
import time
from pathlib import Path

from tests.articles import rss
from tests.bot.cli.test_cli import cli_env, newsbot
from tests.fakes.feed_server import FeedServer


async def start_run(env: dict[str, str]) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "run", env=env,
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip


async def stop_run(process: asyncio.subprocess.Process) -> None:
    process.send_signal(signal.SIGTERM)
    _out, err = await asyncio.wait_for(process.communicate(), timeout=30)
    assert process.returncode == 0, err.decode()[-2000:]


async def feeds(env: dict[str, str]) -> list[dict[str, object]]:
    code, out, err = await newsbot("feeds", "list", "--format", "json", env=env)
    assert code == 0, err
    return list(json.loads(out))


async def test_a_backup_taken_while_running_restores_into_a_new_data_dir(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    items = [{"title": f"Story {n}", "link": f"https://w.example/{n}"} for n in range(3)]
    url = feed_server.add("/feed.xml", rss("Wire", items))
    first = cli_env(tmp_path / "one", NEWSBOT_HTTP_PORT="0", NEWSBOT_POLL_INTERVAL="0.5")
    code, _, err = await newsbot("feeds", "add", url, "--channel", "console:local:main", env=first)
    assert code == 0, err
    running = await start_run(first)
    try:
        deadline = time.monotonic() + 60
        while not (await feeds(first))[0].get("entries"):
            assert time.monotonic() < deadline, "the feed was never polled"
            await asyncio.sleep(0.3)
        backup = tmp_path / "newsbot.rdb"
        code, out, err = await newsbot("backup", str(backup), env=first)
        assert code == 0, err
        assert f"to {backup}" in out and backup.read_bytes().startswith(b"REDIS")
    finally:
        await stop_run(running)
    # The poller may fetch again between the snapshot and the stop: compare what stays.
    before = [(f["id"], f["url"], f["title"], f["entries"]) for f in await feeds(first)]

    second = cli_env(tmp_path / "two", NEWSBOT_HTTP_PORT="0", NEWSBOT_POLL_INTERVAL="0.5")
    code, out, err = await newsbot("restore", str(backup), env=second)
    assert code == 0, err
    assert "restored" in out and list((tmp_path / "two" / "data" / "redis").glob("appendonly*"))
    after = [(f["id"], f["url"], f["title"], f["entries"]) for f in await feeds(second)]
    assert after == before and after[0][3] == 3, "the watch list and its health came back"
    again = await start_run(second)
    await asyncio.sleep(2)
    await stop_run(again)
    assert [f["id"] for f in await feeds(second)] == ["f1"]

    code, _, err = await newsbot("restore", str(backup), env=second)
    assert code == 1 and "already holds data" in err, "never over existing data"
    code, _, err = await newsbot("restore", str(tmp_path / "missing.rdb"), env=second)
    assert code == 1 and "no such backup file" in err


async def test_a_backup_right_after_the_server_started_finishes(tmp_path: Path) -> None:
    """The snapshot is told finished by LASTSAVE, which counts whole seconds: a server
    started in the same second as the backup used to leave it waiting forever."""
    env = cli_env(tmp_path)
    code, out, err = await newsbot("backup", str(tmp_path / "b.rdb"), env=env)
    assert code == 0, err
    assert "backed up 1 keys" in out, "the schema version, on a new install"


async def test_a_backup_never_follows_a_planted_symlink(tmp_path: Path) -> None:
    """Issue #22: `.NAME.partial` beside the target, a symlink to a file the attacker wants
    overwritten, is neither followed nor in the way."""
    env = cli_env(tmp_path)
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    target = tmp_path / "out" / "b.rdb"
    target.parent.mkdir()
    (target.parent / ".b.rdb.partial").symlink_to(victim)
    code, _, err = await newsbot("backup", str(target), env=env)
    assert code == 0, err
    assert victim.read_text() == "precious"
    assert target.read_bytes().startswith(b"REDIS")


async def test_a_backup_target_that_is_not_a_file_elsewhere_is_refused_cleanly(
    tmp_path: Path,
) -> None:
    env = cli_env(tmp_path)
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    cases = {
        str(tmp_path / "data" / "redis" / "dump.rdb"): "inside the data dir",
        str(tmp_path / "data" / "mine.rdb"): "inside the data dir",
        str(fifo): "not a regular file",
        str(tmp_path): "is a folder",
        str(tmp_path / "missing" / "b.rdb"): "no such folder",
    }
    for target, said in cases.items():
        code, _, err = await newsbot("backup", target, env=env)
        assert code == 2 and said in err and "Traceback" not in err, (target, err)
    assert not list(tmp_path.rglob("*.partial")), "nothing half-written is left"


async def test_a_failed_restore_cleans_up_so_a_retry_works(tmp_path: Path) -> None:
    env = cli_env(tmp_path / "one")
    good = tmp_path / "good.rdb"
    code, _, err = await newsbot("backup", str(good), env=env)
    assert code == 0, err
    broken = tmp_path / "broken.rdb"
    broken.write_bytes(b"REDIS0009" + b"\xfe\x00garbage that is no snapshot" * 10)
    second = cli_env(tmp_path / "two")
    code, _, err = await newsbot("restore", str(broken), env=second)
    assert code == 1 and "Traceback" not in err, err
    redis_dir = tmp_path / "two" / "data" / "redis"
    assert not [p for p in redis_dir.glob("*") if p.name not in {"lock"}], "left clean"
    code, out, err = await newsbot("restore", str(good), env=second)
    assert code == 0 and "restored" in out, err
