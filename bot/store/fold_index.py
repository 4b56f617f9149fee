"""The fold index on Redis: where recent stories are filed by LSH band and telling word.

Keys are bucketed per UTC day (see `bot.store.keys`), so each hash stays small enough for Redis's
compact listpack encoding and a whole day expires at once; Redis 6.2 has no per-field
expiry. A lookup reads the day of the text and the two days either side of it, which covers the
48-hour cross-outlet window both ways: a report processed after a later-dated one of the
same event still finds it. Each field keeps at most three story ids, the most recent last.
Reads and writes are one Lua call per article, as an article has 16 keys on 5 days.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta

from redis.asyncio import Redis

from bot.store.keys import Keys
from bot.store.stories import load_stories
from handlers.folding import IndexEntry
from handlers.story import Story

FOLD_INDEX_DAYS = 4
LOOKUP_DAYS = (-2, -1, 0, 1, 2)
_IDS_PER_KEY = 3
_BUCKET_DIGITS = 2

# KEYS: bucket hashes; ARGV: one field per key. All keys share the {ix} hash tag.
_LOOKUP = """
local found = {}
for i, key in ipairs(KEYS) do
  found[i] = redis.call('HGET', key, ARGV[i]) or ''
end
return found
"""

# KEYS: bucket hashes; ARGV: story id, cap, ttl seconds, then one field per key.
_FILE = """
local story, cap, ttl = ARGV[1], tonumber(ARGV[2]), ARGV[3]
for i, key in ipairs(KEYS) do
  local field = ARGV[i + 3]
  local ids = {}
  local current = redis.call('HGET', key, field)
  if current then
    for id in string.gmatch(current, '[^,]+') do
      if id ~= story then table.insert(ids, id) end
    end
  end
  table.insert(ids, story)
  while #ids > cap do table.remove(ids, 1) end
  redis.call('HSET', key, field, table.concat(ids, ','))
  redis.call('EXPIRE', key, ttl)
end
return #KEYS
"""


def _day(when: datetime) -> datetime:
    return when.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)


def _split(key: str) -> tuple[str, str]:
    """Index key -> (bucket, field); the key's last hash digits choose the bucket."""
    kind, digits = key[0], key[1:]
    return f"{kind}{digits[-_BUCKET_DIGITS:]}", f"{kind}{digits[:-_BUCKET_DIGITS]}"


class RedisStoryIndex:
    """`StoryIndex` on Redis; `clock` gives the current time in seconds (for expiry)."""

    def __init__(
        self, client: Redis, keys: Keys, *, clock: Callable[[], float] = time.time
    ) -> None:
        self._client = client
        self._keys = keys
        self._clock = clock
        self._lookup = client.register_script(_LOOKUP)
        self._file = client.register_script(_FILE)

    def _bucket_key(self, day: datetime, bucket: str) -> str:
        return self._keys.fold_index(day.strftime("%Y%m%d"), bucket)

    async def candidates(self, queries: Sequence[IndexEntry]) -> list[set[str]]:
        if not queries:
            return []
        horizon = _day(datetime.fromtimestamp(self._clock(), UTC)) - timedelta(days=FOLD_INDEX_DAYS)
        asked = [q for q in queries if _day(q.when) >= horizon]
        if not asked:
            return [set() for _ in queries]
        async with self._client.pipeline(transaction=False) as pipe:
            for query in asked:
                day = _day(query.when)
                keys: list[str] = []
                fields: list[str] = []
                for offset in LOOKUP_DAYS:
                    for index_key in query.keys:
                        bucket, field = _split(index_key)
                        keys.append(self._bucket_key(day + timedelta(days=offset), bucket))
                        fields.append(field)
                await self._lookup(keys=keys, args=fields, client=pipe)
            replies = await pipe.execute()
        found = iter(replies)
        return [
            {story for value in next(found) if value for story in str(value).split(",")}
            if _day(query.when) >= horizon
            else set()
            for query in queries
        ]

    async def remember(self, entries: Sequence[IndexEntry]) -> None:
        now = datetime.fromtimestamp(self._clock(), UTC)
        async with self._client.pipeline(transaction=False) as pipe:
            queued = 0
            for entry in entries:
                day = _day(entry.when)
                ttl = int((day + timedelta(days=FOLD_INDEX_DAYS + 1) - now).total_seconds())
                if ttl <= 0 or not entry.keys:
                    continue  # older than the fold window: nothing recent can match it
                split = [_split(key) for key in entry.keys]
                await self._file(
                    keys=[self._bucket_key(day, bucket) for bucket, _ in split],
                    args=[entry.story_id, _IDS_PER_KEY, ttl, *(field for _, field in split)],
                    client=pipe,
                )
                queued += 1
            if queued:
                await pipe.execute()

    async def stories(self, story_ids: Sequence[str]) -> list[Story]:
        return await load_stories(self._client, self._keys, story_ids)
