"""`newsbot copy-data --to URL`: copy newsbot's keys into another Redis, a cluster too.

The source is the Redis newsbot is configured with (the embedded one by default); it is
brought to the current schema first, so the target gets the current key layout, whose
multi-key steps each stay within one hash tag and therefore one cluster slot. Every key
under the prefix is copied with DUMP and RESTORE … REPLACE, keeping its time to live, so
a second run copies the same data again and is safe; stop newsbot while it runs, or
deliveries made meanwhile are not copied.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Sequence

import redis.asyncio as aioredis
from redis.exceptions import RedisError, ResponseError

from bot.cli.exits import EXIT_FAILED, EXIT_OK, EXIT_USAGE
from bot.settings import Settings
from bot.store.connection import open_redis, open_url
from bot.store.schema import SCHEMA_VERSION
from handlers.redact import redact_url

BATCH = 500
PROGRESS_EVERY = 2.0  # seconds between progress lines on stderr


async def copy_data_command(settings: Settings, target_url: str) -> int:
    shown = redact_url(target_url)
    if settings.redis_url is not None and settings.redis_url.reveal() == target_url:
        print("newsbot: --to names the Redis newsbot already uses", file=sys.stderr)
        return EXIT_USAGE
    async with open_redis(settings) as source:
        try:
            async with open_url(target_url) as (target, masters):
                found = int(await target.get(source.keys.schema) or 0)
                if found > SCHEMA_VERSION:
                    print(
                        f"newsbot: {shown} holds newsbot data of a newer schema ({found}); "
                        "upgrade newsbot first",
                        file=sys.stderr,
                    )
                    return EXIT_USAGE
                kind = f"Redis Cluster, {masters} masters" if masters else "Redis"
                print(f"copying from {source.shown} to {kind} at {shown}", file=sys.stderr)
                copied = await _copy(source.client, target, f"{source.keys.prefix}*")
        except ResponseError as exc:
            print(f"newsbot: {shown} refused a key: {exc}", file=sys.stderr)
            if "payload version" in str(exc):
                print("  the target's Redis is older than the source's", file=sys.stderr)
            return EXIT_FAILED
        except (RedisError, OSError) as exc:
            print(f"newsbot: cannot copy to {shown}: {exc}", file=sys.stderr)
            return EXIT_FAILED
    print(f"copied {copied} keys to {shown}")
    return EXIT_OK


async def _copy(source: aioredis.Redis, target: aioredis.Redis, pattern: str) -> int:
    copied, batch = 0, []
    shown_at = time.monotonic()
    async for key in source.scan_iter(match=pattern, count=BATCH):
        batch.append(str(key))
        if len(batch) >= BATCH:
            copied += await _copy_batch(source, target, batch)
            batch = []
            if time.monotonic() - shown_at > PROGRESS_EVERY:
                print(f"  {copied} keys copied", file=sys.stderr)
                shown_at = time.monotonic()
    return copied + await _copy_batch(source, target, batch)


async def _copy_batch(source: aioredis.Redis, target: aioredis.Redis, keys: Sequence[str]) -> int:
    if not keys:
        return 0
    async with source.pipeline(transaction=False) as pipe:
        for key in keys:
            pipe.execute_command("DUMP", key, NEVER_DECODE=True)
            pipe.pttl(key)
        replies = await pipe.execute()
    restored = 0
    async with target.pipeline(transaction=False) as pipe:
        for n, key in enumerate(keys):
            payload, ttl = replies[2 * n], int(replies[2 * n + 1])
            if payload is None or ttl == -2:
                continue  # expired or deleted since the scan
            pipe.restore(key, max(ttl, 0), payload, replace=True)
            restored += 1
        await pipe.execute()
    return restored
