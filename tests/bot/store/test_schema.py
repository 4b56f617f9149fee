"""Schema versions: data written by the previous release is migrated in place, once, and
data from a newer newsbot is refused (issue #15)."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from bot.errors import StoreError
from bot.store.connection import RedisHandle
from bot.store.schema import SCHEMA_VERSION, ensure_schema, stored_version
from bot.store.watchlist import CHAT, Watchlist
from tests.bot.cli.test_cli import cli_env, newsbot

# Written by `newsbot` at commit 7c0bf14 (the release before schema versions): feeds added
# by the CLI, by chat members, by both, by newsbot.toml, and one nobody follows.
SNAPSHOT = Path(__file__).with_name("snapshots") / "schema1.json"


async def load_snapshot(handle: RedisHandle) -> None:
    keys = json.loads(SNAPSHOT.read_text("utf-8"))["keys"]
    async with handle.client.pipeline(transaction=False) as pipe:
        pipe.delete(handle.keys.schema)  # that release wrote none
        for key, entry in keys.items():
            name = handle.keys.prefix + key.removeprefix("newsbot:")
            kind, value = entry["type"], entry["value"]
            if kind == "string":
                pipe.set(name, value)
            elif kind == "hash":
                pipe.hset(name, mapping=value)
            elif kind == "set":
                pipe.sadd(name, *value)
            elif kind == "zset":
                pipe.zadd(name, dict(value))
        await pipe.execute()


async def test_the_previous_releases_data_is_migrated_once(
    handle: RedisHandle, caplog: pytest.LogCaptureFixture
) -> None:
    await load_snapshot(handle)
    assert await stored_version(handle.client, handle.keys) == 1
    with caplog.at_level(logging.INFO):
        assert await ensure_schema(handle.client, handle.keys) == 1
    assert await stored_version(handle.client, handle.keys) == SCHEMA_VERSION
    steps = [r for r in caplog.records if r.getMessage() == "migrating the data"]
    assert [(r.__dict__["from"], r.__dict__["to"]) for r in steps] == [(1, 2)]
    origins = {f.url: f.origin for f in await Watchlist(handle.client, handle.keys).all()}
    assert origins == {
        "https://cli.example.com/feed.xml": "",
        "https://chat.example.com/rss": CHAT,
        "https://mixed.example.com/atom": "",
        "https://config.example.com/feed": "",
        "https://unfollowed.example.com/feed": "",
    }
    caplog.clear()
    assert await ensure_schema(handle.client, handle.keys) == SCHEMA_VERSION, "a second start"
    assert not [r for r in caplog.records if r.getMessage() == "migrating the data"]
    assert not await handle.client.exists(handle.keys.schema_lock)


async def test_a_half_done_migration_is_run_again_safely(handle: RedisHandle) -> None:
    await load_snapshot(handle)
    await handle.client.hset(handle.keys.feed("f2"), "origin", CHAT)  # died after this
    await ensure_schema(handle.client, handle.keys)
    assert (await Watchlist(handle.client, handle.keys).get("f2")).origin == CHAT  # type: ignore[union-attr]


async def test_an_empty_database_starts_at_the_current_version(handle: RedisHandle) -> None:
    assert await ensure_schema(handle.client, handle.keys) == SCHEMA_VERSION
    assert int(await handle.client.get(handle.keys.schema)) == SCHEMA_VERSION


async def test_data_from_a_newer_newsbot_is_refused(handle: RedisHandle) -> None:
    await handle.client.set(handle.keys.schema, SCHEMA_VERSION + 1)
    with pytest.raises(StoreError, match="newer than this newsbot knows"):
        await ensure_schema(handle.client, handle.keys)


async def test_newsbot_refuses_to_start_on_newer_data_and_says_why(
    tmp_path: Path, redis_url: str, handle: RedisHandle
) -> None:
    await handle.client.set(handle.keys.schema, SCHEMA_VERSION + 1)
    env = cli_env(tmp_path, NEWSBOT_REDIS_URL=redis_url)
    code, _out, err = await newsbot("feeds", "list", env=env)
    assert code != 0
    assert f"schema version {SCHEMA_VERSION + 1}, newer than this newsbot knows" in err
