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
from redis.exceptions import ResponseError

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
