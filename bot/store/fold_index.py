"""The fold index on Redis: where recent stories are filed by LSH band and telling word.

Keys are bucketed per UTC day (see `bot.store.keys`), so each hash stays small enough for Redis's
compact listpack encoding and a whole day expires at once; Redis 6.2 has no per-field
expiry. A lookup reads the day of the text and the two days either side of it, which covers the
48-hour cross-outlet window both ways: a report processed after a later-dated one of the
same event still finds it. Each field keeps at most three story ids, the most recent last.
A day's buckets share the hash tag ``{ix:<day>}``, so the index is spread over a Redis
Cluster's nodes by day; a lookup is one Lua call per article and day, a write one per
article, all of a batch in one pipeline.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta

from redis.asyncio import Redis

from bot.store.batch import Call, lua, run_batch
from bot.store.keys import Keys
from bot.store.stories import load_stories
from handlers.folding import IndexEntry
from handlers.story import Story

FOLD_INDEX_DAYS = 4
LOOKUP_DAYS = (-2, -1, 0, 1, 2)
_IDS_PER_KEY = 3
_BUCKET_DIGITS = 2

# KEYS: one day's bucket hashes (they share the {ix:<day>} hash tag); ARGV: one field
# per key.
_LOOKUP = lua(
    """
local found = {}
for i, key in ipairs(KEYS) do
  found[i] = redis.call('HGET', key, ARGV[i]) or ''
end
return found
"""
)

# KEYS: one day's bucket hashes; ARGV: story id, cap, ttl seconds, then one field per key.
_FILE = lua(
    """
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
)


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
        # One call per day and article: each day's buckets share that day's hash tag.
        calls: list[Call] = []
        for query in asked:
            day = _day(query.when)
            for offset in LOOKUP_DAYS:
                split = [_split(index_key) for index_key in query.keys]
                keys = [self._bucket_key(day + timedelta(days=offset), b) for b, _ in split]
                calls.append((self._lookup, keys, [field for _, field in split]))
        replies = iter(await run_batch(self._client, calls))
        found = [[value for _ in LOOKUP_DAYS for value in next(replies)] for _query in asked]
        answers = iter(found)
        return [
            {story for value in next(answers) if value for story in str(value).split(",")}
            if _day(query.when) >= horizon
            else set()
            for query in queries
        ]

    async def remember(self, entries: Sequence[IndexEntry]) -> None:
        now = datetime.fromtimestamp(self._clock(), UTC)
        calls: list[Call] = []
        for entry in entries:
            day = _day(entry.when)
            ttl = int((day + timedelta(days=FOLD_INDEX_DAYS + 1) - now).total_seconds())
            if ttl <= 0 or not entry.keys:
                continue  # older than the fold window: nothing recent can match it
            split = [_split(key) for key in entry.keys]
            calls.append(
                (
                    self._file,
                    [self._bucket_key(day, bucket) for bucket, _ in split],
                    [entry.story_id, _IDS_PER_KEY, ttl, *(field for _, field in split)],
                )
            )
        await run_batch(self._client, calls)

    async def stories(self, story_ids: Sequence[str]) -> list[Story]:
        return await load_stories(self._client, self._keys, story_ids)
