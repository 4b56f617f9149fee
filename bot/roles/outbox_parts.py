"""Sending one delivery as several messages, for every platform's deliverer.

A digest too long for one message goes out in parts. The parts the platform accepted are
counted in Redis (``parts:{hash}``), so a retry after a failed part sends only the rest,
and each part after the first waits for the channel's pace.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import TypeVar

from redis.asyncio import Redis

from bot.store.keys import Keys
from handlers.article import short_hash

PARTS_TTL = 86400
Payload = TypeVar("Payload")


async def send_parts(
    client: Redis,
    keys: Keys,
    message: Mapping[str, str],
    payloads: Sequence[Payload],
    *,
    send: Callable[[int, Payload], Awaitable[None]],
    pace: Callable[[], Awaitable[None]],
) -> None:
    """Send the parts not yet accepted, in order; `send(number, payload)` raises on refusal."""
    parts_key = keys.delivery_parts(short_hash(message.get("delivery", "")))
    done = int(await client.get(parts_key) or 0)
    for number, payload in enumerate(payloads):
        if number < done:
            continue  # accepted before a later part failed
        if number:
            await pace()
        await send(number, payload)
        if len(payloads) > 1:
            await client.set(parts_key, number + 1, ex=PARTS_TTL)
