"""Sending one delivery as several messages, for every platform's deliverer.

A digest too long for one message goes out in parts. The parts are rendered once: the
first try stores them with the delivery (``{c:<channel>}:parts:{hash}``: ``payloads``, and
``done``, how many the platform accepted), and every retry sends the remaining stored
parts, so a story
that changed or left the channel's view meanwhile never shifts the split. Each part is
counted as soon as the platform accepts it, so a crash can repeat at most the part being
sent (the one window docs/contracts.md allows), and each part after the first waits for the
channel's pace.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, cast

from redis.asyncio import Redis

from bot.store.keys import Keys
from handlers.article import short_hash

PARTS_TTL = 86400
Payload = dict[str, Any]


async def send_parts(
    client: Redis,
    keys: Keys,
    message: Mapping[str, str],
    payloads: Sequence[Payload],
    *,
    send: Callable[[int, Payload], Awaitable[None]],
    pace: Callable[[], Awaitable[None]],
) -> None:
    """Send the parts not yet accepted, in order; `send(number, payload)` raises on
    refusal. `payloads` is this try's rendering; a delivery tried before keeps its first."""
    if len(payloads) == 1 and not await client.exists(_key(keys, message)):
        await send(0, payloads[0])
        return
    key = _key(keys, message)
    async with client.pipeline(transaction=True) as pipe:
        pipe.hsetnx(key, "payloads", json.dumps(list(payloads)))
        pipe.expire(key, PARTS_TTL)
        pipe.hmget(key, ["payloads", "done"])
        _set, _expired, (stored, done) = await pipe.execute()
    parts = cast(list[Payload], json.loads(stored))
    for number in range(int(done or 0), len(parts)):
        if number:
            await pace()
        await send(number, parts[number])
        await client.hset(key, "done", number + 1)


def _key(keys: Keys, message: Mapping[str, str]) -> str:
    return keys.delivery_parts(message.get("channel", ""), short_hash(message.get("delivery", "")))
