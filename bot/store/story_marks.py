"""What a channel said about its stories: feedback (👍 / 👎) and stories its managers muted.

A member marks a story once per channel: the vote (``{c:<channel>}:votes``) and the weights
it moves (``{c:<channel>}:feedback``, see `handlers.feedback`) are written by one script,
so a repeated click, from any process, counts nothing. A muted story
(``{c:<channel>}:muted``) leaves the channel's pending digest in the same script, and the
breaking and channel-alert paths skip it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping, Sequence

from redis.asyncio import Redis

from bot.store.batch import lua
from bot.store.keys import Keys
from handlers.channels import ChannelRef
from handlers.feedback import HALF_LIFE, MARKS, WEIGHTS_MAX, decayed

FEEDBACK_TTL = 180 * 86400

# KEYS: votes zset, feedback hash. ARGV: now, retention horizon, retention ttl, the vote
# member, delta, half-life, cap, feedback ttl, then the weights' fields. 1 when counted.
_VOTE = lua(
    """
local now = tonumber(ARGV[1])
if redis.call('ZADD', KEYS[1], 'NX', now, ARGV[4]) == 0 then return 0 end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[2])
redis.call('EXPIRE', KEYS[1], ARGV[3])
local delta, half = tonumber(ARGV[5]), tonumber(ARGV[6])
local function current(raw)
  local value, since = string.match(raw, '^([^|]+)|(.+)$')
  if not value then return 0 end
  return tonumber(value) * math.pow(0.5, math.max(now - tonumber(since), 0) / half)
end
for i = 9, #ARGV do
  local old = redis.call('HGET', KEYS[2], ARGV[i])
  local value = delta + (old and current(old) or 0)
  redis.call('HSET', KEYS[2], ARGV[i], string.format('%.6f|%d', value, math.floor(now)))
end
redis.call('HINCRBY', KEYS[2], '#marks', 1)
local cap = tonumber(ARGV[7])
if redis.call('HLEN', KEYS[2]) > cap + 1 then
  local all, weights = redis.call('HGETALL', KEYS[2]), {}
  for i = 1, #all, 2 do
    if all[i] ~= '#marks' then
      table.insert(weights, {all[i], math.abs(current(all[i + 1]))})
    end
  end
  table.sort(weights, function(a, b) return a[2] < b[2] end)
  for i = 1, #weights - cap do redis.call('HDEL', KEYS[2], weights[i][1]) end
end
redis.call('EXPIRE', KEYS[2], ARGV[8])
return 1
"""
)
# KEYS: muted zset, pending zset. ARGV: now, horizon, ttl, story. 1 when newly muted.
_MUTE = lua(
    """
local added = redis.call('ZADD', KEYS[1], 'NX', ARGV[1], ARGV[4])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[2])
redis.call('EXPIRE', KEYS[1], ARGV[3])
redis.call('ZREM', KEYS[2], ARGV[4])
return added
"""
)


class StoryMarks:
    """A channel's feedback and mutes."""

    def __init__(
        self,
        client: Redis,
        keys: Keys,
        *,
        ttl: int = 30 * 86400,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._client = client
        self._keys = keys
        self._ttl = ttl
        self._clock = clock
        self._vote = client.register_script(_VOTE)
        self._mute = client.register_script(_MUTE)

    async def vote(
        self, channel: ChannelRef, story_id: str, user: str, *, up: bool, counts_for: Sequence[str]
    ) -> bool:
        """Record a member's mark on a story for the channel; False when they gave one."""
        now = self._clock()
        where = str(channel)
        counted = await self._vote(
            keys=[self._keys.channel_votes(where), self._keys.channel_feedback(where)],
            args=[
                now,
                now - self._ttl,
                self._ttl,
                f"{story_id} {user}",
                1 if up else -1,
                HALF_LIFE,
                WEIGHTS_MAX,
                FEEDBACK_TTL,
                *counts_for,
            ],
        )
        return bool(counted)

    async def weights(self, channel: ChannelRef) -> tuple[dict[str, float], int]:
        """The channel's feedback weights as they stand now, and how many marks it gave."""
        raw = await self._client.hgetall(self._keys.channel_feedback(str(channel)))
        now, weights, marks = self._clock(), {}, 0
        for field, value in raw.items():
            name, text = _text(field), _text(value)
            if name == MARKS:
                marks = int(text)
                continue
            weight, _, since = text.partition("|")
            try:
                weights[name] = decayed(float(weight), float(since), now)
            except ValueError:
                continue  # a field this version did not write: ignore it
        return weights, marks

    async def mute(self, channel: ChannelRef, story_id: str) -> bool:
        """Mute a story in the channel (and take it out of the pending digest); False when
        it was muted already."""
        now, where = self._clock(), str(channel)
        added = await self._mute(
            keys=[self._keys.channel_muted(where), self._keys.channel_pending(where)],
            args=[now, now - self._ttl, self._ttl, story_id],
        )
        return bool(added)

    async def muted(self, wanted: Mapping[str, Iterable[str]]) -> set[tuple[str, str]]:
        """Which (channel, story) pairs of `wanted` (channel -> story ids) are muted, in one
        round trip."""
        asked = {channel: list(dict.fromkeys(ids)) for channel, ids in wanted.items() if ids}
        if not asked:
            return set()
        async with self._client.pipeline(transaction=False) as pipe:
            for channel, ids in asked.items():
                pipe.zmscore(self._keys.channel_muted(channel), ids)
            replies = await pipe.execute()
        return {
            (channel, story)
            for (channel, ids), scores in zip(asked.items(), replies, strict=True)
            for story, score in zip(ids, scores, strict=True)
            if score is not None
        }


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
