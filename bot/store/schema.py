"""The version of newsbot's data in Redis, and the migrations that bring older data up.

``schema`` holds the version of the key layout the data was written with. On start,
`ensure_schema` migrates older data in place, one logged step at a time, each step safe to
run twice (a process that dies half-way is followed by one that runs the step again); a
lock key keeps two starting processes from migrating at once. Data of a newer version than
this newsbot knows is refused with a message saying so: an older newsbot must not write
into it.

Versions:
1. Before versioning (no ``schema`` key).
2. A watched feed records whether only chat asked for it (``origin`` = ``chat``), so it
   leaves the watch list with its last subscription. The step marks the feeds whose every
   subscription was made by a chat member; feeds the CLI or ``newsbot.toml`` added, or
   that nobody follows, stay watched for good.
3. Every key of one channel shares the hash tag ``{c:<channel>}`` (``chan:{channel}``,
   ``…:subs``, ``…:routed``, ``…:pending`` and ``…:members`` become ``{c:<channel>}``,
   ``{c:<channel>}:subs`` …), so the scripts that change a channel's state and queue its
   delivery in one step also run on Redis Cluster. The step renames each channel's keys.
   Before, a refused channel was marked with ``failed`` on its hash; those marks are
   dropped: the channel is held (``bot.store.holds``) at its next refused delivery.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable

from redis.asyncio import Redis

from bot.errors import StoreError
from bot.store.keys import Keys
from bot.store.watchlist import CHAT

log = logging.getLogger(__name__)

SCHEMA_VERSION = 3
CHANNEL_SUFFIXES = ("", ":subs", ":routed", ":pending", ":members")
NOT_A_MEMBER = {"", "cli", "newsbot.toml", "config", "bench"}
_LOCK_SECONDS = 300


async def _mark_chat_feeds(client: Redis, keys: Keys) -> None:
    feed_ids = [str(i) for i in (await client.hgetall(keys.feeds_by_url)).values()]
    for feed_id in feed_ids:
        subs = [json.loads(v) for v in (await client.hgetall(keys.feed_subs(feed_id))).values()]
        if subs and all(str(s.get("added_by", "")) not in NOT_A_MEMBER for s in subs):
            await client.hset(keys.feed(feed_id), "origin", CHAT)


async def _tag_channel_keys(client: Redis, keys: Keys) -> None:
    channels: set[str] = set()
    async for key in client.scan_iter(match=f"{keys.prefix}chan:*", count=1000):
        parts = str(key).removeprefix(f"{keys.prefix}chan:").split(":")
        if len(parts) >= 3:
            channels.add(":".join(parts[:3]))
    for channel in sorted(channels):
        for suffix in CHANNEL_SUFFIXES:
            old = keys.old_channel_key(channel, suffix)
            if await client.exists(old):
                await client.rename(old, f"{keys.channel(channel)}{suffix}")
        await client.hdel(keys.channel(channel), "failed", "failed_at", "refusal_told")


Step = Callable[[Redis, Keys], Awaitable[None]]
MIGRATIONS: dict[int, tuple[str, Step]] = {
    2: ("mark the feeds only chat members subscribed to", _mark_chat_feeds),
    3: ("give each channel's keys the channel's hash tag", _tag_channel_keys),
}


async def stored_version(client: Redis, keys: Keys) -> int:
    """The data's version: its ``schema`` key; 1 for data from before versioning; the
    current version for an empty database."""
    value = await client.get(keys.schema)
    if value is not None:
        return int(value)
    if await client.exists(keys.feeds_by_url, keys.channels, keys.feed_seq):
        return 1
    return SCHEMA_VERSION


async def ensure_schema(client: Redis, keys: Keys, *, wait: float = 60.0) -> int:
    """Bring the data up to `SCHEMA_VERSION` (or refuse newer data); the version found."""
    found = await stored_version(client, keys)
    if found > SCHEMA_VERSION:
        raise StoreError(
            f"this Redis holds newsbot data of schema version {found}, newer than this "
            f"newsbot knows ({SCHEMA_VERSION}); upgrade newsbot, or point it at another Redis"
        )
    if found == SCHEMA_VERSION:
        await client.set(keys.schema, SCHEMA_VERSION, nx=True)
        return found
    deadline = asyncio.get_running_loop().time() + wait
    while not await client.set(keys.schema_lock, "1", nx=True, ex=_LOCK_SECONDS):
        if asyncio.get_running_loop().time() > deadline:
            raise StoreError("another newsbot process is migrating the data; try again soon")
        await asyncio.sleep(0.5)  # another process is migrating; see what it left
    try:
        current = await stored_version(client, keys)
        for version in range(current + 1, SCHEMA_VERSION + 1):
            what, step = MIGRATIONS[version]
            log.info("migrating the data", extra={"from": version - 1, "to": version, "step": what})
            await step(client, keys)
            await client.set(keys.schema, version)
            log.info("migrated the data", extra={"version": version})
    finally:
        await client.delete(keys.schema_lock)
    return found
