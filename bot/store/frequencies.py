"""Document frequencies for TF-IDF on Redis: how many recent stories had each word.

Each UTC day (by the pipeline's clock) has a fixed string of 65,536 saturating 16-bit
counters; a word counts in counter ``crc32(word) mod 65,536``. Words that share a counter
add up, which can only make a word look commoner than it is and weigh less: folding stays
on the careful side. Reads sum the last `DAYS` days in one script; writes add a batch of
stories in one script. Every key has the ``{ix}`` hash tag of the fold index.
"""

from __future__ import annotations

import time
import zlib
from collections import Counter
from collections.abc import Callable, Collection, Sequence
from datetime import UTC, datetime, timedelta

from redis.asyncio import Redis

from bot.store.batch import Call, lua, run_batch
from bot.store.keys import Keys
from handlers.tfidf import Frequencies

DAYS = 7
COUNTERS = 1 << 16
_CHUNK = 500

# KEYS: one day's counters, then its story count (they share the {ix:<day>} hash tag).
# ARGV: counter numbers. Returns the day's story count, then each counter.
_GET = lua(
    """
local sums = {}
for i = 1, #ARGV do sums[i] = 0 end
local total = 0
for d = 1, #KEYS, 2 do
  total = total + tonumber(redis.call('GET', KEYS[d + 1]) or '0')
  if redis.call('EXISTS', KEYS[d]) == 1 then
    for first = 1, #ARGV, 500 do
      local args = {}
      for i = first, math.min(first + 499, #ARGV) do
        table.insert(args, 'GET')
        table.insert(args, 'u16')
        table.insert(args, '#' .. ARGV[i])
      end
      local values = redis.call('BITFIELD', KEYS[d], unpack(args))
      for i, value in ipairs(values) do sums[first + i - 1] = sums[first + i - 1] + value end
    end
  end
end
table.insert(sums, 1, total)
return sums
"""
)

# KEYS: the day's counters, its story count. ARGV: ttl, stories, then counter, amount pairs.
_ADD = lua(
    """
local ttl = ARGV[1]
for first = 3, #ARGV, 1000 do
  local args = {'OVERFLOW', 'SAT'}
  for i = first, math.min(first + 998, #ARGV - 1), 2 do
    table.insert(args, 'INCRBY')
    table.insert(args, 'u16')
    table.insert(args, '#' .. ARGV[i])
    table.insert(args, ARGV[i + 1])
  end
  redis.call('BITFIELD', KEYS[1], unpack(args))
end
redis.call('INCRBY', KEYS[2], ARGV[2])
redis.call('EXPIRE', KEYS[1], ttl)
redis.call('EXPIRE', KEYS[2], ttl)
return 1
"""
)


def counter_of(word: str) -> int:
    return zlib.crc32(word.encode("utf-8")) % COUNTERS


class RedisFrequencies:
    """`DocumentFrequencies` on Redis; `clock` gives the current time in seconds."""

    def __init__(
        self, client: Redis, keys: Keys, *, clock: Callable[[], float] = time.time
    ) -> None:
        self._client = client
        self._keys = keys
        self._clock = clock
        self._get = client.register_script(_GET)
        self._add = client.register_script(_ADD)

    def _day(self, offset: int = 0) -> str:
        today = datetime.fromtimestamp(self._clock(), UTC) - timedelta(days=offset)
        return today.strftime("%Y%m%d")

    async def get(self, words: Collection[str]) -> Frequencies:
        unique = sorted(set(words))
        counters = sorted({counter_of(w) for w in unique})
        calls: list[Call] = []
        for offset in range(DAYS):
            day = self._day(offset)
            keys = [self._keys.word_counts(day), self._keys.story_count(day)]
            calls.append((self._get, keys, counters))
        total, sums = 0, [0] * len(counters)
        for day_total, *day_sums in await run_batch(self._client, calls):
            total += int(day_total)
            sums = [a + int(b) for a, b in zip(sums, day_sums, strict=True)]
        by_counter = dict(zip(counters, sums, strict=True))
        return Frequencies(total, {w: by_counter[counter_of(w)] for w in unique})

    async def learn(self, documents: Sequence[Collection[str]]) -> None:
        if not documents:
            return
        amounts: Counter[int] = Counter()
        for words in documents:
            amounts.update({counter_of(w) for w in words})
        day = self._day()
        args: list[int] = [(DAYS + 1) * 86400, len(documents)]
        for counter, amount in sorted(amounts.items()):
            args += [counter, amount]
        await self._add(keys=[self._keys.word_counts(day), self._keys.story_count(day)], args=args)
