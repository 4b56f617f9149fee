"""Consumer groups on Redis streams, as the pipeline workers and outbox consumers share them.

A consumer is named after its host and process, so a restarted process is a new consumer.
What a dead consumer had read but not acknowledged stays in its pending list until a live
one takes it over (`claim_idle`, XAUTOCLAIM); only then, with nothing pending, is the dead
consumer removed (`remove_idle_consumers`): XGROUP DELCONSUMER throws its pending list away.
"""

from __future__ import annotations

import os
import socket
from typing import Any, cast

from redis.asyncio import Redis
from redis.asyncio.cluster import RedisCluster
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError, SlotNotCoveredError

Message = tuple[str, dict[str, str]]


def consumer_name() -> str:
    """This process's consumer name: unique per host and process."""
    return f"{socket.gethostname()}-{os.getpid()}"


async def ensure_group(client: Redis, stream: str, group: str) -> None:
    """Create the stream's consumer group (and the stream) unless it exists."""
    try:
        await client.xgroup_create(stream, group, id="0", mkstream=True)
    except ResponseError as exc:
        if "BUSYGROUP" not in str(exc):
            raise


async def read_group(
    client: Redis,
    stream: str,
    group: str,
    consumer: str,
    start: str,
    *,
    count: int,
    block: int | None = None,
) -> list[Message]:
    """XREADGROUP of one stream: up to `count` messages from `start` (">" for new ones),
    waiting up to `block` ms for some when given.

    On a Redis Cluster the command goes to the stream's node by its slot. Left to
    itself, redis-py asks one fixed node which key XREADGROUP names (Redis 6.2 has no
    key specs), and after that node fails over it keeps asking the dead one."""
    if isinstance(client, RedisCluster):
        args: list[Any] = ["XREADGROUP", "GROUP", group, consumer, "COUNT", count]
        if block is not None:
            args += ["BLOCK", block]
        node = await _node_of(client, stream)
        reply: Any = await client.execute_command(
            *args, "STREAMS", stream, start, target_nodes=node
        )
    else:
        reply = await client.xreadgroup(group, consumer, {stream: start}, count=count, block=block)
    return [
        (str(mid), cast(dict[str, str], fields))
        for _stream, batch in reply or []
        for mid, fields in batch
    ]


async def _node_of(client: RedisCluster, key: str) -> Any:
    """The node serving `key`'s slot, by a fresh look at the topology if the client has
    none yet or its map has a hole (a failover under way): then a ConnectionError, which
    the roles treat as an outage to wait out."""
    if not client.get_nodes():
        await client.initialize()
    try:
        return client.get_node_from_key(key)
    except SlotNotCoveredError:
        await client.nodes_manager.initialize()
    try:
        return client.get_node_from_key(key)
    except SlotNotCoveredError as exc:
        raise RedisConnectionError(f"no node serves {key} now: {exc}") from exc


async def claim_idle(
    client: Redis,
    stream: str,
    group: str,
    consumer: str,
    *,
    idle: float,
    count: int = 100,
    rounds: int = 10,
) -> list[Message]:
    """Take over messages pending for longer than `idle` seconds on any consumer."""
    claimed: list[Message] = []
    start = "0-0"
    for _ in range(rounds):
        reply: Any = await client.xautoclaim(
            stream, group, consumer, min_idle_time=int(idle * 1000), start_id=start, count=count
        )
        # Deleted messages come back without fields (Redis 6.2) and are skipped.
        claimed += [(str(mid), cast(dict[str, str], f)) for mid, f in reply[1] if f]
        start = str(reply[0])
        if start in {"0-0", "0"}:
            break
    return claimed


async def remove_idle_consumers(
    client: Redis, stream: str, group: str, *, keep: str, idle: float
) -> list[str]:
    """Remove consumers idle for longer than `idle` seconds that hold nothing pending.

    A consumer that is still alive and reads again is simply created anew by Redis."""
    removed = []
    for info in await client.xinfo_consumers(stream, group):
        name = str(info["name"])
        if name != keep and int(info["pending"]) == 0 and int(info["idle"]) > idle * 1000:
            await client.xgroup_delconsumer(stream, group, name)
            removed.append(name)
    return removed
