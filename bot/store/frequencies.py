"""Document frequencies for TF-IDF on Redis: how many recent stories had each word.

Each UTC day (by the pipeline's clock) has a fixed string of 65,536 saturating 16-bit
counters; a word counts in counter ``crc32(word) mod 65,536``. Words that share a counter
add up, which can only make a word look commoner than it is and weigh less: folding stays
on the careful side. A process reads the last `DAYS` days whole and sums them, again after
`REFRESH` seconds (its own writes it adds at once); writes add a batch of stories in one
script. Every key has the ``{ix}`` hash tag of the fold index.
"""

from __future__ import annotations

import time
import zlib
from collections import Counter
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import numpy as np
from redis.asyncio import Redis
from redis.client import NEVER_DECODE

from bot.store.batch import lua
from bot.store.keys import Keys
from handlers.tfidf import Frequencies

DAYS = 7
COUNTERS = 1 << 16
REFRESH = 30.0
_CHUNK = 500

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


@dataclass
class _Read:
    day: str
    read_at: float
    total: int
    sums: np.ndarray


class RedisFrequencies:
    """`DocumentFrequencies` on Redis; `clock` gives the current time in seconds."""

    def __init__(
        self, client: Redis, keys: Keys, *, clock: Callable[[], float] = time.time
    ) -> None:
        self._client = client
        self._keys = keys
        self._clock = clock
        self._add = client.register_script(_ADD)
        self._cache: _Read | None = None

    def _day(self, offset: int = 0) -> str:
        today = datetime.fromtimestamp(self._clock(), UTC) - timedelta(days=offset)
        return today.strftime("%Y%m%d")

    async def get(self, words: Collection[str]) -> Frequencies:
        unique = sorted(set(words))
        total, sums = await self._read()
        return Frequencies(total, {w: int(sums[counter_of(w)]) for w in unique})

    async def _read(self) -> tuple[int, np.ndarray]:
        """The last `DAYS` days of counters, summed: read whole (128 KB a day) at most
        every `REFRESH` seconds, rather than a batch's thousands of counters per batch."""
        today = self._day()
        cached = self._cache
        if cached and cached.day == today and time.monotonic() - cached.read_at < REFRESH:
            return cached.total, cached.sums
        total, sums = 0, np.zeros(COUNTERS, dtype=np.int64)
        for offset in range(DAYS):
            day = self._day(offset)
            raw = await self._client.execute_command(  # type: ignore[no-untyped-call]
                "GET", self._keys.word_counts(day), **{NEVER_DECODE: []}
            )
            total += int(await self._client.get(self._keys.story_count(day)) or 0)
            if raw:
                counts = np.frombuffer(bytes(raw[: COUNTERS * 2]), dtype=">u2")
                sums[: len(counts)] += counts
        self._cache = _Read(today, time.monotonic(), total, sums)
        return total, sums

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
        if self._cache is not None and self._cache.day == day:
            # This process sees its own counts at once; others' within `REFRESH`.
            for counter, amount in amounts.items():
                self._cache.sums[counter] += amount
            self._cache.total += len(documents)
