"""Held channels and dead letters: where deliveries wait that cannot go out now.

**Holds.** A channel the platform refuses (`Refusal.CHANNEL` or `GONE`) is held: the
refused delivery and every later one for that channel wait, in order, in the channel's own
list (``{c:<channel>}:held``) instead of the platform's outbox stream, and the hold's
reason and start are kept beside it (``{c:<channel>}:hold``). Both keys share the channel's
hash tag, so one script decides "held or not" and appends atomically with the release
that ends the hold: a delivery is never left behind in a hold nobody releases. A hold
keeps at most `HOLD_MAX` deliveries (the pending cap; the oldest go first, logged) and
expires with the retention.

``outbox:{platform}:holds`` lists the held channels by when to probe them next. A probe
tries the first held delivery; a `/news` command in the channel, Slack's
``member_joined_channel`` for the bot, or a Discord event that can restore access asks for
a probe now (`probe_now`). A release takes a fixed count of held deliveries
(``release`` in the hold, so a retry after a crash takes the same ones and groups them
the same way), sends them, trims them, and ends the hold once the list is empty.

**Attempts.** A delivery's failed attempts are counted in ``{c:<channel>}:attempts``
(``n:<hash>`` and ``t:<hash>``, the first failure's time), and cleared once it is sent.

**Dead letters.** A delivery that failed too often, or whose message the platform refuses
even as plain text, moves to ``outbox:{platform}:dead`` with its reason
(`newsbot outbox list|retry|drop`).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, cast

from redis.asyncio import Redis
from redis.exceptions import ResponseError

from bot.store.batch import lua
from bot.store.keys import Keys
from handlers.article import short_hash

log = logging.getLogger(__name__)

HOLD_MAX = 5000
DEAD_MAX = 10_000

# KEYS: hold hash, held list. ARGV: message JSON, cap, ttl.
# Appends the message when the channel is held; returns 1 then, else 0.
_HOLD_IF_HELD = lua(
    """
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('RPUSH', KEYS[2], ARGV[1])
local dropped = redis.call('LLEN', KEYS[2]) - tonumber(ARGV[2])
if dropped > 0 then redis.call('LTRIM', KEYS[2], dropped, -1) end
redis.call('EXPIRE', KEYS[1], ARGV[3])
redis.call('EXPIRE', KEYS[2], ARGV[3])
return 1
"""
)

# KEYS: hold hash, held list. ARGV: message JSON, cap, ttl, reason, refusal, now.
# Holds the channel (or keeps holding it) with this message last; 1 when the hold is new.
_START = lua(
    """
local new = redis.call('EXISTS', KEYS[1]) == 0
if new then redis.call('HSET', KEYS[1], 'since', ARGV[6]) end
redis.call('HSET', KEYS[1], 'reason', ARGV[4], 'refusal', ARGV[5])
redis.call('RPUSH', KEYS[2], ARGV[1])
local dropped = redis.call('LLEN', KEYS[2]) - tonumber(ARGV[2])
if dropped > 0 then redis.call('LTRIM', KEYS[2], dropped, -1) end
redis.call('EXPIRE', KEYS[1], ARGV[3])
redis.call('EXPIRE', KEYS[2], ARGV[3])
if new then return 1 end
return 0
"""
)

# KEYS: hold hash, held list. Fixes how many held deliveries this release takes (the
# same after a crash), and returns them.
_SNAPSHOT = lua(
    """
if redis.call('EXISTS', KEYS[1]) == 0 then return {} end
local n = tonumber(redis.call('HGET', KEYS[1], 'release') or '-1')
if n < 0 then
  n = redis.call('LLEN', KEYS[2])
  redis.call('HSET', KEYS[1], 'release', n)
end
if n == 0 then return {} end
return redis.call('LRANGE', KEYS[2], 0, n - 1)
"""
)

# KEYS: hold hash, held list. ARGV: how many were released. Trims them; ends the hold
# when nothing is left (returns 1), else returns 0 and the next release takes the rest.
_RELEASED = lua(
    """
redis.call('LTRIM', KEYS[2], tonumber(ARGV[1]), -1)
redis.call('HDEL', KEYS[1], 'release')
if redis.call('LLEN', KEYS[2]) == 0 then
  redis.call('DEL', KEYS[1])
  return 1
end
return 0
"""
)


@dataclass(frozen=True)
class Hold:
    """A held channel: why, since when, and how many deliveries wait."""

    channel: str
    reason: str
    refusal: str
    since: float
    waiting: int


@dataclass(frozen=True)
class Attempts:
    count: int
    first: float


@dataclass(frozen=True)
class DeadLetter:
    id: str
    fields: dict[str, str]
    reason: str
    attempts: int
    at: float

    @property
    def channel(self) -> str:
        return self.fields.get("channel", "")

    @property
    def delivery(self) -> str:
        return self.fields.get("delivery", "")


DEAD_FIELDS = ("dead_reason", "dead_attempts", "dead_at")


def encode(fields: Mapping[str, str]) -> str:
    return json.dumps(dict(fields), separators=(",", ":"), sort_keys=True)


def platform_of(channel: str) -> str:
    return channel.split(":", 1)[0]


class HoldStore:
    """Holds, attempts and dead letters of one Redis."""

    def __init__(self, client: Redis, keys: Keys, *, ttl: int, cap: int = HOLD_MAX) -> None:
        self._client = client
        self._keys = keys
        self._ttl = ttl
        self._cap = cap
        self._hold_if_held = client.register_script(_HOLD_IF_HELD)
        self._start = client.register_script(_START)
        self._snapshot = client.register_script(_SNAPSHOT)
        self._released = client.register_script(_RELEASED)

    def _pair(self, channel: str) -> list[str]:
        return [self._keys.channel_hold(channel), self._keys.channel_held(channel)]

    async def hold_if_held(self, channel: str, fields: Mapping[str, str]) -> bool:
        """Put the delivery in the channel's hold if it is held; False when it is not."""
        held = await self._hold_if_held(
            keys=self._pair(channel), args=[encode(fields), self._cap, self._ttl]
        )
        return bool(held)

    async def start(
        self,
        channel: str,
        fields: Mapping[str, str],
        *,
        reason: str,
        refusal: str,
        now: float,
        probe_at: float,
    ) -> bool:
        """Hold the channel with this delivery last; True when the hold is new."""
        new = await self._start(
            keys=self._pair(channel),
            args=[encode(fields), self._cap, self._ttl, reason[:300], refusal, now],
        )
        await self.probe_at(channel, probe_at, only_held=False)
        return bool(new)

    async def probe_at(self, channel: str, when: float, *, only_held: bool = True) -> None:
        """Probe the held channel at `when` (and note a new hold's first probe)."""
        await self._client.zadd(
            self._keys.outbox_holds(platform_of(channel)), {channel: when}, xx=only_held
        )

    async def probe_now(self, channels: Sequence[str]) -> int:
        """Ask for an immediate probe of those of these channels that are held (a
        `/news` command there, the bot invited back); how many are held."""
        held = await self._held(channels)
        if held:
            async with self._client.pipeline(transaction=False) as pipe:
                for channel in held:
                    pipe.zadd(self._keys.outbox_holds(platform_of(channel)), {channel: 0})
                await pipe.execute()
        return len(held)

    async def ensure_probes(self, channels: Sequence[str], when: float) -> int:
        """Give every held one of these channels a probe, if a crash left it without one
        (between a hold's start and its probe's); how many had none."""
        held = await self._held(channels)
        if not held:
            return 0
        async with self._client.pipeline(transaction=False) as pipe:
            for channel in held:
                pipe.zadd(self._keys.outbox_holds(platform_of(channel)), {channel: when}, nx=True)
            added = await pipe.execute()
        return sum(int(n) for n in added)

    async def _held(self, channels: Sequence[str]) -> list[str]:
        channels = list(dict.fromkeys(channels))
        if not channels:
            return []
        async with self._client.pipeline(transaction=False) as pipe:
            for channel in channels:
                pipe.exists(self._keys.channel_hold(channel))
            found = await pipe.execute()
        return [c for c, exists in zip(channels, found, strict=True) if exists]

    async def held_in(self, platform: str, workspace: str) -> list[str]:
        """The held channels of one workspace or guild."""
        channels = await self._client.zrange(self._keys.outbox_holds(platform), 0, -1)
        prefix = f"{platform}:{workspace}:"
        return [str(c) for c in channels if str(c).startswith(prefix)]

    async def due(self, platform: str, now: float, *, limit: int = 20) -> list[str]:
        """Held channels whose probe is due."""
        due = await self._client.zrangebyscore(
            self._keys.outbox_holds(platform), "-inf", now, start=0, num=limit
        )
        return [str(c) for c in due]

    async def snapshot(self, channel: str) -> list[dict[str, str]]:
        """The held deliveries the next release takes, oldest first (the same ones until
        `released` says they went)."""
        rows = await self._snapshot(keys=self._pair(channel))
        return [cast(dict[str, str], json.loads(row)) for row in rows]

    async def released(self, channel: str, count: int) -> bool:
        """Drop the `count` released deliveries; True when the hold is over."""
        ended = bool(await self._released(keys=self._pair(channel), args=[count]))
        if ended or not await self._client.exists(self._keys.channel_hold(channel)):
            await self._client.zrem(self._keys.outbox_holds(platform_of(channel)), channel)
            return True
        return False

    async def lease(self, channel: str, holder: str, seconds: float) -> bool:
        """Take the right to release this channel for `seconds` (one process at a time;
        renew it with `renew` while the release lasts, so a killed one is replaced soon)."""
        key = self._keys.channel_releasing(channel)
        return bool(await self._client.set(key, holder, nx=True, px=int(seconds * 1000)))

    async def renew(self, channel: str, seconds: float) -> None:
        await self._client.pexpire(self._keys.channel_releasing(channel), int(seconds * 1000))

    async def unlease(self, channel: str) -> None:
        await self._client.delete(self._keys.channel_releasing(channel))

    async def holds(self, channels: Sequence[str]) -> dict[str, Hold]:
        """Of these channels, the held ones."""
        if not channels:
            return {}
        async with self._client.pipeline(transaction=False) as pipe:
            for channel in channels:
                pipe.hgetall(self._keys.channel_hold(channel))
                pipe.llen(self._keys.channel_held(channel))
            rows = await pipe.execute()
        found = {}
        for index, channel in enumerate(channels):
            hold, waiting = cast(dict[str, str], rows[2 * index]), int(rows[2 * index + 1])
            if hold:
                found[channel] = Hold(
                    channel,
                    hold.get("reason", ""),
                    hold.get("refusal", ""),
                    float(hold.get("since") or 0),
                    waiting,
                )
        return found

    async def all_held(self, platforms: Sequence[str]) -> dict[str, Hold]:
        channels = []
        for platform in platforms:
            channels += [
                str(c) for c in await self._client.zrange(self._keys.outbox_holds(platform), 0, -1)
            ]
        return await self.holds(channels)

    async def drop(self, channel: str) -> None:
        """End a hold and drop what it held (the channel's subscriptions are gone)."""
        async with self._client.pipeline(transaction=False) as pipe:
            pipe.delete(*self._pair(channel), self._keys.channel_attempts(channel))
            pipe.zrem(self._keys.outbox_holds(platform_of(channel)), channel)
            await pipe.execute()

    # Attempts ----------------------------------------------------------------------------

    async def attempt(self, channel: str, delivery: str, now: float) -> Attempts:
        """Count a failed attempt of a delivery; the count and the first failure's time."""
        key, tag = self._keys.channel_attempts(channel), short_hash(delivery)
        async with self._client.pipeline(transaction=False) as pipe:
            pipe.hincrby(key, f"n:{tag}", 1)
            pipe.hsetnx(key, f"t:{tag}", str(now))
            pipe.hget(key, f"t:{tag}")
            pipe.expire(key, self._ttl)
            count, _set, first, _expired = await pipe.execute()
        return Attempts(int(count), float(first or now))

    async def forget_attempts(self, channel: str, delivery: str) -> None:
        tag = short_hash(delivery)
        await self._client.hdel(self._keys.channel_attempts(channel), f"n:{tag}", f"t:{tag}")

    # Dead letters ------------------------------------------------------------------------

    async def dead_letter(
        self, fields: Mapping[str, str], *, reason: str, attempts: int, now: float
    ) -> None:
        channel = fields.get("channel", "")
        entry: dict[Any, Any] = {
            **{k: v for k, v in fields.items() if k not in DEAD_FIELDS},
            "dead_reason": reason[:500],
            "dead_attempts": str(attempts),
            "dead_at": str(now),
        }
        async with self._client.pipeline(transaction=False) as pipe:
            pipe.xadd(
                self._keys.outbox_dead(platform_of(channel)),
                entry,
                maxlen=DEAD_MAX,
                approximate=True,
            )
            tag = short_hash(fields.get("delivery", ""))
            pipe.hdel(self._keys.channel_attempts(channel), f"n:{tag}", f"t:{tag}")
            await pipe.execute()

    async def dead_letters(self, platform: str) -> list[DeadLetter]:
        rows = await self._client.xrange(self._keys.outbox_dead(platform))
        return [_dead(str(mid), cast(dict[str, str], fields)) for mid, fields in rows or []]

    async def dead_letter_by_id(self, platform: str, letter_id: str) -> DeadLetter | None:
        """One dead letter of a platform, by its id; None when there is none (any more)."""
        try:
            rows = await self._client.xrange(self._keys.outbox_dead(platform), letter_id, letter_id)
        except ResponseError:  # not a stream id
            return None
        return _dead(str(rows[0][0]), cast(dict[str, str], rows[0][1])) if rows else None

    async def retry_dead(self, letter: DeadLetter, platform: str) -> None:
        """Queue a dead letter again, from its first attempt."""
        fields = {k: v for k, v in letter.fields.items() if k not in DEAD_FIELDS}
        async with self._client.pipeline(transaction=False) as pipe:
            pipe.xadd(self._keys.outbox(platform), cast(dict[Any, Any], fields))
            pipe.xdel(self._keys.outbox_dead(platform), letter.id)
            await pipe.execute()

    async def drop_dead(self, letter: DeadLetter, platform: str) -> None:
        await self._client.xdel(self._keys.outbox_dead(platform), letter.id)


def _dead(message_id: str, fields: dict[str, str]) -> DeadLetter:
    return DeadLetter(
        message_id,
        {k: v for k, v in fields.items() if k not in DEAD_FIELDS},
        fields.get("dead_reason", ""),
        int(fields.get("dead_attempts") or 0),
        float(fields.get("dead_at") or 0),
    )
