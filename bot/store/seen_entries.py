"""Which entries of a feed the pipeline already has, as fetched: so a changed document's
old entries are recognised by the poller, in one round trip, and never queued again.

``feed:<fid>:seen`` maps an entry's hash to its `fetched_version`. The pipeline worker
writes it once a batch is through (a failed entry is not written, so the next poll queues
it again); the poller reads it whole before it queues a document's entries, and drops the
fields of entries the document no longer has, so it holds one document's worth.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from redis.asyncio import Redis
from redis.typing import EncodableT

from bot.store.keys import Keys
from handlers.article import Article

SEEN_TTL = 30 * 86400  # a feed nobody polls any more is forgotten


class SeenEntries:
    def __init__(self, client: Redis, keys: Keys) -> None:
        self._client = client
        self._keys = keys

    async def of_feed(self, feed_id: str) -> dict[str, str]:
        """Entry hash -> fetched version, of every entry the pipeline has from the feed."""
        return {
            str(k): str(v)
            for k, v in (await self._client.hgetall(self._keys.feed_seen(feed_id))).items()
        }

    async def forget(self, feed_id: str, entry_hashes: Iterable[str]) -> None:
        gone = list(entry_hashes)
        if gone:
            await self._client.hdel(self._keys.feed_seen(feed_id), *gone)

    async def remember(self, articles: Sequence[Article]) -> None:
        by_feed: dict[str, dict[EncodableT, EncodableT]] = {}
        for article in articles:
            if article.fetched_version:
                by_feed.setdefault(article.feed_id, {})[article.entry_hash] = (
                    article.fetched_version
                )
        if not by_feed:
            return
        async with self._client.pipeline(transaction=False) as pipe:
            for feed_id, versions in by_feed.items():
                pipe.hset(self._keys.feed_seen(feed_id), mapping=versions)
                pipe.expire(self._keys.feed_seen(feed_id), SEEN_TTL)
            await pipe.execute()
