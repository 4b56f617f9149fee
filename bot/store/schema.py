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
4. Keys are laid out for Redis Cluster slots: the fold, frequency and search indexes are
   tagged by day (``{ix}:20261204:a1`` becomes ``{ix:20261204}:a1``, ``{ix}:df:<day>``
   ``{ix:<day>}:df``, ``{sx}:<day>:…`` ``{sx:<day>}:…``), so they spread over the
   nodes; the alert registry shares the tag ``{al}`` (``alerts`` becomes ``{al}``,
   ``alerts:of:<owner>`` ``{al}:of:<owner>``, ``dm_closed:<platform>``
   ``{al}:dm_closed:<platform>`` …); a member's waiting alert DMs move to their DM
   target's tag (``alerts:batch:<target>`` becomes ``{c:<target>}:alerts``), and which
   alerts a story fired (``story:<sid>:alerted``) becomes each target's
   ``{c:<target>}:alerted``. The step renames in batches, renewing the migration lock
   after each.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable

from redis.asyncio import Redis

from bot.errors import StoreError
from bot.store.keys import Keys
from bot.store.watchlist import CHAT

log = logging.getLogger(__name__)

SCHEMA_VERSION = 4
CHANNEL_SUFFIXES = ("", ":subs", ":routed", ":pending", ":members")
NOT_A_MEMBER = {"", "cli", "newsbot.toml", "config", "bench"}
_LOCK_SECONDS = 300
_BATCH = 500

Renew = Callable[[], Awaitable[None]]


async def _mark_chat_feeds(client: Redis, keys: Keys, _renew: Renew) -> None:
    feed_ids = [str(i) for i in (await client.hgetall(keys.feeds_by_url)).values()]
    for feed_id in feed_ids:
        subs = [json.loads(v) for v in (await client.hgetall(keys.feed_subs(feed_id))).values()]
        if subs and all(str(s.get("added_by", "")) not in NOT_A_MEMBER for s in subs):
            await client.hset(keys.feed(feed_id), "origin", CHAT)


async def _tag_channel_keys(client: Redis, keys: Keys, _renew: Renew) -> None:
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


def _slot_name(name: str) -> str | None:
    """The schema-4 name of a schema-3 key (without the prefix), or None to keep it."""
    for index in ("ix", "sx"):
        head = f"{{{index}}}:"
        if name.startswith(head):
            rest = name.removeprefix(head)
            if rest.startswith(("df:", "dn:")):
                kind, day = rest.split(":", 1)
                return f"{{{index}:{day}}}:{kind}"
            day, _, tail = rest.partition(":")
            return f"{{{index}:{day}}}:{tail}"
    for old, new in (("alerts:batch:", "alerts"), ("alerts:last:", "alert_last")):
        if name.startswith(old):
            return f"{{c:{name.removeprefix(old)}}}:{new}"
    if name == "alerts":
        return "{al}"
    if name.startswith("alerts:"):
        return "{al}:" + name.removeprefix("alerts:")
    if name.startswith("dm_closed:"):
        return "{al}:" + name
    return None


async def _batches(client: Redis, pattern: str) -> AsyncIterator[list[str]]:
    """The keys matching `pattern`, `_BATCH` at a time."""
    batch: list[str] = []
    async for key in client.scan_iter(match=pattern, count=_BATCH):
        batch.append(str(key))
        if len(batch) >= _BATCH:
            yield batch
            batch = []
    if batch:
        yield batch


async def _tag_for_slots(client: Redis, keys: Keys, renew: Renew) -> None:
    for pattern in ("{ix}:*", "{sx}:*", "alerts*", "dm_closed:*"):
        async for batch in _batches(client, f"{keys.prefix}{pattern}"):
            await _rename(client, keys, batch)
            await renew()
    await client.delete(f"{keys.prefix}{{al}}:batches")  # DM ids now carry their time
    targets: dict[str, str] = {}
    for raw in await client.hvals(keys.alerts):
        alert = json.loads(raw)
        dm = f"{alert.get('platform')}:dm:{alert.get('user')}"
        target = alert.get("channel") or (dm if alert.get("platform") else "")
        if target and alert.get("id"):  # an alert it cannot place fires again, at worst
            targets[str(alert["id"])] = str(target)
    async for batch in _batches(client, f"{keys.prefix}story:*:alerted"):
        await _move_alerted(client, keys, batch, targets)
        await renew()


async def _rename(client: Redis, keys: Keys, names: list[str]) -> None:
    async with client.pipeline(transaction=False) as pipe:
        for name in names:
            new = _slot_name(name.removeprefix(keys.prefix))
            if new is not None:
                pipe.rename(name, keys.prefix + new)
        await pipe.execute(raise_on_error=False)  # a key another step renamed meanwhile


async def _move_alerted(
    client: Redis, keys: Keys, names: list[str], targets: dict[str, str]
) -> None:
    async with client.pipeline(transaction=False) as pipe:
        for name in names:
            pipe.smembers(name)
            pipe.ttl(name)
        replies = await pipe.execute()
    async with client.pipeline(transaction=False) as pipe:
        for n, name in enumerate(names):
            story = name.removeprefix(f"{keys.prefix}story:").removesuffix(":alerted")
            fired, ttl = replies[2 * n], int(replies[2 * n + 1])
            for alert_id in fired:
                if alert_id in targets:
                    key = keys.alert_seen(targets[alert_id])
                    pipe.zadd(key, {f"{alert_id} {story}": time.time()})
                    pipe.expire(key, max(ttl, 86400))
            pipe.delete(name)
        await pipe.execute()


Step = Callable[[Redis, Keys, Renew], Awaitable[None]]
MIGRATIONS: dict[int, tuple[str, Step]] = {
    2: ("mark the feeds only chat members subscribed to", _mark_chat_feeds),
    3: ("give each channel's keys the channel's hash tag", _tag_channel_keys),
    4: ("lay the keys out for Redis Cluster slots", _tag_for_slots),
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

    async def renew() -> None:
        await client.expire(keys.schema_lock, _LOCK_SECONDS)

    try:
        current = await stored_version(client, keys)
        for version in range(current + 1, SCHEMA_VERSION + 1):
            what, step = MIGRATIONS[version]
            log.info("migrating the data", extra={"from": version - 1, "to": version, "step": what})
            await step(client, keys, renew)
            await client.set(keys.schema, version)
            log.info("migrated the data", extra={"version": version})
    finally:
        await client.delete(keys.schema_lock)
    return found
