"""Remembering which signed Slack requests and events were handled, so none runs twice.

Slack signs each request with its timestamp; a signature is valid for five minutes. An
accepted (timestamp, signature) pair is kept for that window plus a margin
(``slack:request:{hash}``, SET NX), so the same signed body sent again is refused, by any
process on this Redis. An Events API callback is kept by its ``event_id`` for an hour
(``slack:event:{id}``) once handled, since Slack retries one that failed with a new
signature.
"""

from __future__ import annotations

from redis.asyncio import Redis

from bot.store.keys import Keys
from handlers.article import short_hash

REQUEST_WINDOW = 6 * 60
EVENT_WINDOW = 3600


class ReplayGuard:
    def __init__(self, client: Redis, keys: Keys) -> None:
        self._client = client
        self._keys = keys

    async def first_time(self, signed: str) -> bool:
        """True the first time a signed request is seen; False for a replay."""
        key = self._keys.slack_request(short_hash(signed))
        return bool(await self._client.set(key, "1", nx=True, ex=REQUEST_WINDOW))

    async def event_handled(self, event_id: str) -> bool:
        return bool(await self._client.exists(self._keys.slack_event(short_hash(event_id))))

    async def event_done(self, event_id: str) -> None:
        await self._client.set(self._keys.slack_event(short_hash(event_id)), "1", ex=EVENT_WINDOW)
