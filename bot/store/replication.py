"""Writes that must outlive a failover: each is followed by WAIT 1 on its own connection.

Redis replicates asynchronously, so a master that dies a moment after acknowledging a
write can take the write with it when its replica takes over. Two writes must not be
lost that way: the record that a delivery was sent (lost, it would be sent twice) and the
hand-off of a delivery from its channel's queue onto the outbox stream (lost after its
source is removed, it would never be sent). Nor may what the pipeline stores before it
acknowledges an entry: the story, and its routing to the channels (`bot.store.batch`'s
durable batches). Each is sent in one pipeline with ``WAIT 1`` behind it, which on a
Redis Cluster goes to the node of the written keys, so the wait covers exactly those
writes. With no replica the WAIT is left out, since it would only time out.
"""

from __future__ import annotations

import logging
import time
import weakref
from collections.abc import Callable, Iterable
from typing import Any

import redis.asyncio as aioredis
from redis.asyncio.cluster import RedisCluster

log = logging.getLogger(__name__)

WAIT_MS = 1000
_RECHECK = 30.0  # seconds between looks at whether the server has replicas

_REPLICAS: weakref.WeakKeyDictionary[Any, tuple[float, bool]] = weakref.WeakKeyDictionary()


async def has_replicas(client: aioredis.Redis) -> bool:
    checked = _REPLICAS.get(client)
    if checked is not None and time.monotonic() - checked[0] < _RECHECK:
        return checked[1]
    if isinstance(client, RedisCluster):
        found = bool(client.get_replicas())
    else:
        found = int((await client.info("replication")).get("connected_slaves", 0)) > 0
    _REPLICAS[client] = (time.monotonic(), found)
    return found


def stage_waits(client: aioredis.Redis, pipe: Any, keys: Iterable[str]) -> int:
    """Put a WAIT 1 on the pipeline behind the commands on each of these keys' nodes (one
    on a single Redis); how many, for the caller to take their replies off the end."""
    if not isinstance(client, RedisCluster):
        pipe.execute_command("WAIT", 1, WAIT_MS)
        return 1
    nodes = {node.name: node for node in map(client.get_node_from_key, keys)}
    for node in nodes.values():
        pipe.execute_command("WAIT", 1, WAIT_MS, target_nodes=node)
    return len(nodes)


def check_waits(acknowledged: list[Any], what: str) -> None:
    if not all(int(count) for count in acknowledged):
        log.warning("no replica confirmed a write in time", extra={"key": what})


async def replicated(client: aioredis.Redis, key: str, stage: Callable[[Any], None]) -> list[Any]:
    """Run the commands `stage` puts on a pipeline (all on `key`'s node), then wait for a
    replica to have them; their replies. A wait that times out is logged, not raised:
    the write stands, it may only be lost if the master dies in the next moment."""
    replicas = await has_replicas(client)
    async with client.pipeline(transaction=False) as pipe:
        stage(pipe)
        waits = stage_waits(client, pipe, [key]) if replicas else 0
        replies: list[Any] = await pipe.execute()
    if waits:
        check_waits(replies[-waits:], key)
        del replies[-waits:]
    return replies
