"""`newsbot backup FILE` and `newsbot restore FILE`, for the embedded Redis.

A backup is a consistent snapshot: BGSAVE on the running server (newsbot can keep
running), then the RDB file copied to FILE. A restore needs an empty data dir and no
newsbot running on it: the RDB is loaded by a private server, written out as the
append-only file `newsbot run` reads, and the server is stopped. A snapshot from an
older newsbot is migrated when newsbot next starts (`bot.store.schema`).
"""

from __future__ import annotations

import asyncio
import os
import shutil
import sys
import time
from pathlib import Path

import redis

from bot.cli.exits import EXIT_FAILED, EXIT_OK, EXIT_USAGE
from bot.settings import Settings
from bot.store.connection import open_redis
from bot.store.embedded_redis import EmbeddedRedis

RDB = "dump.rdb"
TIMEOUT = 600.0
EXTERNAL = (
    "newsbot: backup and restore work on the embedded Redis; for the Redis at "
    "NEWSBOT_REDIS_URL use its own snapshots (BGSAVE and copy its dump.rdb, or your "
    "provider's backups); see the README"
)


def _copy(source: Path, target: Path) -> int:
    """Copy `source` to `target` through a temporary file, so `target` is whole or absent."""
    partial = target.with_name(f".{target.name}.partial")
    with source.open("rb") as reader, partial.open("wb") as writer:
        shutil.copyfileobj(reader, writer, 1 << 20)
        writer.flush()
        os.fsync(writer.fileno())
    partial.replace(target)
    return target.stat().st_size


async def backup_command(settings: Settings, target: Path) -> int:
    if settings.redis_url is not None:
        print(EXTERNAL, file=sys.stderr)
        return EXIT_USAGE
    async with open_redis(settings) as handle:
        client = handle.client
        before = (await client.info("persistence"))["rdb_last_save_time"]
        # LASTSAVE counts whole seconds: on a server started this second, a snapshot that
        # finishes this second would not move it. Start it in a later second.
        seconds, micros = await client.time()
        if int(seconds) <= before:
            await asyncio.sleep(before + 1 - int(seconds) - int(micros) / 1e6 + 0.05)
        await client.bgsave(schedule=True)
        deadline = time.monotonic() + TIMEOUT
        while True:
            info = await client.info("persistence")
            if not info["rdb_bgsave_in_progress"] and info["rdb_last_save_time"] != before:
                break
            if time.monotonic() > deadline:
                print("newsbot: the snapshot did not finish in 10 minutes", file=sys.stderr)
                return EXIT_FAILED
            await asyncio.sleep(0.1)
        if info["rdb_last_bgsave_status"] != "ok":
            print("newsbot: Redis could not write the snapshot (see its log)", file=sys.stderr)
            return EXIT_FAILED
        keys = await client.dbsize()
        snapshot = settings.data_dir / "redis" / RDB
        size = await asyncio.to_thread(_copy, snapshot, target)
        await asyncio.to_thread(snapshot.unlink, missing_ok=True)
    print(f"backed up {keys} keys ({size / 1e6:.1f} MB) to {target}")
    return EXIT_OK


def _restore(data_dir: Path, source: Path) -> int:
    """Load `source` into the empty data dir as its append-only file; the number of keys."""
    server = EmbeddedRedis(data_dir, persistent=False)
    server.redis_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    _copy(source, server.redis_dir / RDB)
    server.start()
    client = redis.Redis(unix_socket_path=str(server.socket_path), protocol=2)
    try:
        keys = int(client.dbsize())
        client.config_set("appendonly", "yes")  # writes the append-only file from memory
        deadline = time.monotonic() + TIMEOUT
        while True:
            info = client.info("persistence")
            rewriting = info["aof_rewrite_in_progress"] or info["aof_rewrite_scheduled"]
            if info["aof_enabled"] and not rewriting:
                break
            if time.monotonic() > deadline:
                raise RuntimeError("writing the append-only file did not finish in 10 minutes")
            time.sleep(0.1)
        if info["aof_last_bgrewrite_status"] != "ok":
            raise RuntimeError("Redis could not write the append-only file (see its log)")
    finally:
        client.close()
        server.stop()
    (server.redis_dir / RDB).unlink(missing_ok=True)
    return keys


def _refusal(source: Path, redis_dir: Path) -> str:
    """Why `source` cannot be restored into `redis_dir`; "" when it can."""
    if not source.is_file():
        return f"{source}: no such backup file"
    with source.open("rb") as reader:
        if reader.read(5) != b"REDIS":
            return f"{source} is not a Redis snapshot (RDB file)"
    found = [p.name for p in (redis_dir.iterdir() if redis_dir.exists() else [])]
    if any(name.startswith(("appendonly", RDB)) or name == "redis.sock" for name in found):
        return (
            f"{redis_dir} already holds data (or a running newsbot); restore needs an empty "
            "data dir: stop newsbot and move that folder aside first"
        )
    return ""


async def restore_command(settings: Settings, source: Path) -> int:
    if settings.redis_url is not None:
        print(EXTERNAL, file=sys.stderr)
        return EXIT_USAGE
    redis_dir = settings.data_dir / "redis"
    if refusal := await asyncio.to_thread(_refusal, source, redis_dir):
        print(f"newsbot: {refusal}", file=sys.stderr)
        return EXIT_FAILED
    try:
        keys = await asyncio.to_thread(_restore, settings.data_dir, source)
    except (RuntimeError, redis.RedisError, OSError) as exc:
        print(f"newsbot: restore failed: {exc}", file=sys.stderr)
        return EXIT_FAILED
    print(f"restored {keys} keys into {redis_dir}; start newsbot run as usual")
    return EXIT_OK
