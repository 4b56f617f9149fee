"""Many commands in one round trip, on a single Redis or a Redis Cluster.

Keys of several hash tags are never read with one MGET (a Redis Cluster refuses it):
`get_many` reads them with a pipeline, which redis-py splits per node.

Lua scripts: every module names its scripts with `lua`. A single Redis's pipeline loads
its scripts before it sends them. redis-py's cluster pipeline sends a bare EVALSHA instead,
so a primary that lacks a script (a new one after a failover, or one restarted) answers
NOSCRIPT. So on a cluster every script is loaded on every primary at start
(`load_scripts`, from `open_redis`) and again when `run_batch` sees the set of primaries
change, and a call still answered NOSCRIPT is loaded and run again, alone. A script run
outside a batch (`AsyncScript.__call__`) recovers from NOSCRIPT by itself.
"""

from __future__ import annotations

import hashlib
import weakref
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import redis.asyncio as aioredis
from redis.asyncio.cluster import RedisCluster
from redis.commands.core import AsyncScript
from redis.exceptions import NoScriptError

from bot.store.replication import check_waits, has_replicas, stage_waits

# A script call: the script, its keys, its arguments.
Call = tuple[AsyncScript, Sequence[str], Sequence[Any]]


@dataclass
class _Loaded:
    primaries: frozenset[str] = frozenset()
    shas: set[str] = field(default_factory=set)


_LOADED: weakref.WeakKeyDictionary[Any, _Loaded] = weakref.WeakKeyDictionary()
# Every script newsbot runs, by SHA1: each module names its scripts with `lua` at import.
_SOURCES: dict[str, str] = {}


def lua(source: str) -> str:
    """Name a Lua script newsbot runs, so it is loaded on every primary of a cluster."""
    _SOURCES[hashlib.sha1(source.encode(), usedforsecurity=False).hexdigest()] = source
    return source


async def load_scripts(client: aioredis.Redis) -> int:
    """On a cluster, load every known script on every primary now (at start, and after
    the primaries changed); how many. A single Redis's pipelines load their own."""
    if not isinstance(client, RedisCluster):
        return 0
    loaded = _Loaded(await _primaries(client))
    for sha, source in list(_SOURCES.items()):
        await client.script_load(source)  # SCRIPT LOAD goes to every primary
        loaded.shas.add(sha)
    _LOADED[client] = loaded
    return len(loaded.shas)


async def _primaries(client: RedisCluster) -> frozenset[str]:
    """The names of the cluster's primaries, as the client knows them (asked first)."""
    if not client.get_nodes():
        await client.initialize()
    return frozenset(node.name for node in client.get_primaries())


async def _ensure_loaded(client: aioredis.Redis, scripts: Sequence[AsyncScript]) -> None:
    if not isinstance(client, RedisCluster):
        return
    primaries = await _primaries(client)
    loaded = _LOADED.get(client)
    if loaded is None or loaded.primaries != primaries:
        await load_scripts(client)
        loaded = _LOADED[client]
    for script in scripts:
        if script.sha not in loaded.shas:
            await client.script_load(script.script)
            loaded.shas.add(script.sha)


async def run_batch(
    client: aioredis.Redis, calls: Sequence[Call], *, durable: bool = False
) -> list[Any]:
    """Run the calls in one pipeline (one round trip per node), their replies in order.
    `durable`: each node waits for a replica to have its calls' writes (WAIT 1) before
    answering, when there are replicas (`bot.store.replication`)."""
    if not calls:
        return []
    await _ensure_loaded(client, list({id(call[0]): call[0] for call in calls}.values()))
    waits = 0
    async with client.pipeline(transaction=False) as pipe:
        for script, keys, args in calls:
            await script(keys=list(keys), args=list(args), client=pipe)
        if durable and await has_replicas(client):
            waits = stage_waits(client, pipe, [keys[0] for _script, keys, _args in calls if keys])
        replies: list[Any] = await pipe.execute(raise_on_error=False)
    if waits:
        check_waits(replies[-waits:], "a batch of scripts")
        del replies[-waits:]
    for n, reply in enumerate(replies):
        if isinstance(reply, NoScriptError):
            _LOADED.pop(client, None)
            script, keys, args = calls[n]
            replies[n] = await script(keys=list(keys), args=list(args), client=client)
        elif isinstance(reply, Exception):
            raise reply
    return replies


async def get_many(client: aioredis.Redis, keys: Sequence[str]) -> list[Any]:
    """GET each key, in one pipeline: an MGET per node on a cluster, one on a single Redis."""
    if not keys:
        return []
    async with client.pipeline(transaction=False) as pipe:
        for key in keys:
            pipe.get(key)
        return list(await pipe.execute())
