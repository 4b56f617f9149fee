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
from tests.fakes.redis_cluster import command_calls, reset_command_stats

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


@pytest.mark.single_redis
async def test_the_previous_releases_data_is_migrated_once(
    handle: RedisHandle, caplog: pytest.LogCaptureFixture
) -> None:
    await load_snapshot(handle)
    assert await stored_version(handle.client, handle.keys) == 1
    with caplog.at_level(logging.INFO):
        assert await ensure_schema(handle.client, handle.keys) == 1
    assert await stored_version(handle.client, handle.keys) == SCHEMA_VERSION
    steps = [r for r in caplog.records if r.getMessage() == "migrating the data"]
    assert [(r.__dict__["from"], r.__dict__["to"]) for r in steps] == [(1, 2), (2, 3), (3, 4)]
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


@pytest.mark.single_redis
async def test_each_channels_keys_get_its_hash_tag(handle: RedisHandle) -> None:
    """Schema 3: the channel's keys are renamed, their contents kept; a refusal mark of
    schema 2 is dropped (the channel is held at its next refused delivery)."""
    await load_snapshot(handle)
    old = handle.keys.old_channel_key
    await handle.client.set(handle.keys.schema, 2)
    await handle.client.hset(
        old("slack:T1:C1"), mapping={"schedule": "daily 07:00", "failed": "not_in_channel"}
    )
    await handle.client.zadd(old("slack:T1:C1", ":pending"), {"s1": 1.0})
    await handle.client.zadd(old("slack:T1:C1", ":routed"), {"s1": 1.0, "s2": 2.0})
    await handle.client.hset(old("slack:T1:C1", ":members"), "U1", "5")
    subs_before = await handle.client.hgetall(old("slack:T1:C1", ":subs"))
    assert subs_before
    await ensure_schema(handle.client, handle.keys)
    assert await handle.client.hgetall(handle.keys.channel("slack:T1:C1")) == {
        "schedule": "daily 07:00"
    }
    assert await handle.client.hgetall(handle.keys.channel_subs("slack:T1:C1")) == subs_before
    assert await handle.client.zrange(handle.keys.channel_pending("slack:T1:C1"), 0, -1) == ["s1"]
    assert await handle.client.zcard(handle.keys.channel_routed("slack:T1:C1")) == 2
    assert await handle.client.hget(handle.keys.channel_members("slack:T1:C1"), "U1") == "5"
    assert await handle.client.hgetall(handle.keys.channel_subs("discord:9:8"))
    assert [k async for k in handle.client.scan_iter(match=f"{handle.keys.prefix}chan:*")] == []


@pytest.mark.single_redis
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


@pytest.mark.single_redis
async def test_keys_are_laid_out_for_cluster_slots_and_the_lock_is_renewed(
    handle: RedisHandle,
) -> None:
    """Schema 4: the day-tagged indexes, the {al} alert registry and each target's
    alert keys; over a batch's worth of keys, so the step renews its lock."""
    prefix = handle.keys.prefix
    alert = {"id": "a1", "platform": "slack", "workspace": "T1", "user": "U1"}
    channel_alert = {**alert, "id": "a2", "channel": "slack:T1:C9"}
    async with handle.client.pipeline(transaction=False) as pipe:
        pipe.set(handle.keys.schema, 3)
        for bucket in range(600):
            pipe.hset(f"{prefix}{{ix}}:20261204:a{bucket}", "f", "s1")
        pipe.set(f"{prefix}{{ix}}:df:20261204", "counts")
        pipe.hset(f"{prefix}{{sx}}:20261204:ids", "1", "s1")
        pipe.hset(
            f"{prefix}alerts",
            mapping={"a1": json.dumps(alert), "a2": json.dumps(channel_alert)},
        )
        pipe.sadd(f"{prefix}alerts:of:slack:U1", "a1", "a2")
        pipe.set(f"{prefix}alerts:version", 7)
        pipe.hset(f"{prefix}dm_closed:slack", "U1", "5")
        pipe.rpush(f"{prefix}alerts:batch:slack:dm:U1", '{"a":"a1"}')
        pipe.sadd(f"{prefix}story:s1:alerted", "a1", "a2")
        pipe.expire(f"{prefix}story:s1:alerted", 3600)
        pipe.set(f"{prefix}alerts:batches", 12)
        await pipe.execute()
    await reset_command_stats(handle.client)
    assert await ensure_schema(handle.client, handle.keys) == 3
    # one EXPIRE moves the alerted set's TTL; the others renew the lock between batches
    assert (await command_calls(handle.client))["expire"] >= 2
    keys = handle.keys
    assert await handle.client.hget(keys.fold_index("20261204", "a599"), "f") == "s1"
    assert await handle.client.get(keys.word_counts("20261204")) == "counts"
    assert await handle.client.hget(keys.search_ids("20261204"), "1") == "s1"
    assert set(await handle.client.hkeys(keys.alerts)) == {"a1", "a2"}
    assert await handle.client.smembers(keys.alerts_of("slack:U1")) == {"a1", "a2"}
    assert await handle.client.get(keys.alerts_version) == "7"
    assert await handle.client.hget(keys.dm_closed("slack"), "U1") == "5"
    assert await handle.client.lrange(keys.alert_batch("slack:dm:U1"), 0, -1) == ['{"a":"a1"}']
    assert await handle.client.zrange(keys.alert_seen("slack:dm:U1"), 0, -1) == ["a1 s1"]
    assert await handle.client.zrange(keys.alert_seen("slack:T1:C9"), 0, -1) == ["a2 s1"]
    left = [
        k
        async for k in handle.client.scan_iter(match=f"{prefix}*")
        if k.startswith((f"{prefix}{{ix}}", f"{prefix}{{sx}}", f"{prefix}alerts"))
        or k.startswith((f"{prefix}story:", f"{prefix}dm_closed"))
    ]
    assert left == []


@pytest.mark.single_redis
async def test_the_slot_layout_step_run_again_changes_nothing(handle: RedisHandle) -> None:
    """A process that died after step 4 renamed some keys runs it again: what was renamed
    stays as it is, and what was left is renamed. An alert it cannot place (no platform)
    does not stop the migration."""
    prefix, keys = handle.keys.prefix, handle.keys
    await handle.client.set(keys.schema, 3)
    await handle.client.hset(f"{prefix}{{ix}}:20261204:a1", "f", "s1")
    alert = {"id": "a1", "platform": "slack", "user": "U1"}
    await handle.client.hset(f"{prefix}alerts", "a1", json.dumps(alert))
    await handle.client.hset(f"{prefix}alerts", "a9", json.dumps({"id": "a9"}))  # malformed
    await handle.client.sadd(f"{prefix}story:s1:alerted", "a1", "a9")
    await ensure_schema(handle.client, keys)
    await handle.client.hset(f"{prefix}{{ix}}:20261205:a2", "f", "s2")  # left by the crash
    await handle.client.set(keys.schema, 3)
    await ensure_schema(handle.client, keys)
    assert await handle.client.hget(keys.fold_index("20261204", "a1"), "f") == "s1"
    assert await handle.client.hget(keys.fold_index("20261205", "a2"), "f") == "s2"
    assert sorted(await handle.client.hkeys(keys.alerts)) == ["a1", "a9"]
    assert await handle.client.zrange(keys.alert_seen("slack:dm:U1"), 0, -1) == ["a1 s1"]
    assert int(await handle.client.get(keys.schema)) == SCHEMA_VERSION
