"""`newsbot backup FILE` and `newsbot restore FILE`, for the embedded Redis.

A backup is a consistent snapshot: BGSAVE on the running server (newsbot can keep
running), then the RDB file copied to FILE. FILE is written safely: a new temporary file
beside it, opened exclusively and never through a symlink, then renamed over it; a target
inside the data dir, or one that is not a regular file (a device, a folder, a symlink), is
refused before anything is written. A restore needs an empty data dir and no
newsbot running on it: the RDB is loaded by a private server, written out as the
append-only file `newsbot run` reads, and the server is stopped. A snapshot from an
older newsbot is migrated when newsbot next starts (`bot.store.schema`).
"""

from __future__ import annotations

import asyncio
import os
import secrets
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
    """Copy `source` to `target` through a temporary file, so `target` is whole or absent.

    The temporary file is new (O_EXCL, a random name) and never a symlink (O_NOFOLLOW), so
    nothing planted beside the target is followed; it is removed if the copy fails."""
    partial = target.with_name(f".{target.name}.{secrets.token_hex(6)}.partial")
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW
    descriptor = os.open(partial, flags, 0o600)
    try:
        with source.open("rb") as reader, os.fdopen(descriptor, "wb") as writer:
            shutil.copyfileobj(reader, writer, 1 << 20)
            writer.flush()
            os.fsync(writer.fileno())
        partial.replace(target)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    return target.stat().st_size


def target_refusal(target: Path, data_dir: Path) -> str:
    """Why a backup may not be written to `target`; "" when it may."""
    folder = target.parent if str(target.parent) else Path(".")
    try:
        if folder.resolve().is_relative_to(data_dir.resolve()):
            return f"{target} is inside the data dir ({data_dir}); write the backup elsewhere"
    except OSError as exc:
        return f"{folder}: {exc.strerror or exc}"
    if target.is_symlink():
        return f"{target} is a symlink; name a regular file"
    if target.exists() and target.is_dir():
        return f"{target} is a folder; name a file in it, e.g. {target / 'newsbot.rdb'}"
    if target.exists() and not target.is_file():
        return f"{target} exists and is not a regular file (a device?); name another file"
    if not folder.is_dir():
        return f"{folder}: no such folder"
    return ""


async def backup_command(settings: Settings, target: Path) -> int:
    if settings.redis_url is not None:
        print(EXTERNAL, file=sys.stderr)
        return EXIT_USAGE
    if refusal := await asyncio.to_thread(target_refusal, target, settings.data_dir):
        print(f"newsbot: {refusal}", file=sys.stderr)
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
        try:
            size = await asyncio.to_thread(_copy, snapshot, target)
        except OSError as exc:
            print(f"newsbot: cannot write {target}: {exc.strerror or exc}", file=sys.stderr)
            return EXIT_FAILED
        finally:
            await asyncio.to_thread(snapshot.unlink, missing_ok=True)
    print(f"backed up {keys} keys ({size / 1e6:.1f} MB) to {target}")
    return EXIT_OK


def _restore(data_dir: Path, source: Path) -> int:
    """Load `source` into the empty data dir as its append-only file; the number of keys.
    On failure, what it wrote is removed again, so a retry finds the data dir empty."""
    redis_dir = data_dir / "redis"
    before = set(redis_dir.iterdir()) if redis_dir.exists() else set()
    try:
        return _load(data_dir, source)
    except BaseException:
        for path in set(redis_dir.iterdir()) - before if redis_dir.exists() else ():
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)
        raise


def _load(data_dir: Path, source: Path) -> int:
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
