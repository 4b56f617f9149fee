"""Keyword alerts in Redis: the alerts themselves, pauses, and the DMs waiting to go.

A personal alert's matches wait in ``alerts:batch:{target}`` and go out as one DM at most
once a minute per member: the first match at once, the ones after it merged into the next
DM. A Lua script moves a batch onto the outbox in one step, with a delivery id, so a
crash neither loses a batch nor sends it twice. A channel alert's match goes to the
outbox at once, one message per story (delivery id: alert and story).
"""

from __future__ import annotations

import functools
import json
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any, NamedTuple

from redis.asyncio import Redis

from bot.store.forwarding import Forwarder
from bot.store.keys import Keys
from handlers.alerts import AlertError
from handlers.channels import ChannelRef

DM_GAP = 60.0  # at most one alert DM a minute per member
BATCH_MAX = 10  # stories in one DM; the rest go in the next
BATCH_KEEP = 100  # matches kept waiting per member; older ones are dropped
CLOSED = "closed"
DM = "dm"

# KEYS: batch list, last-sent, due zset, outbox stream, batch counter.
# ARGV: now, gap, target, batch max. Returns how many matches were queued as a DM.
_FLUSH = """
local waiting = redis.call('LLEN', KEYS[1])
if waiting == 0 then redis.call('ZREM', KEYS[3], ARGV[3]) return 0 end
local now, gap = tonumber(ARGV[1]), tonumber(ARGV[2])
local last = tonumber(redis.call('GET', KEYS[2]) or '0')
if now < last + gap then
  redis.call('ZADD', KEYS[3], last + gap, ARGV[3])
  return 0
end
local take = tonumber(ARGV[4])
local items = redis.call('LRANGE', KEYS[1], 0, take - 1)
redis.call('LTRIM', KEYS[1], take, -1)
local seq = redis.call('INCR', KEYS[5])
redis.call('XADD', KEYS[4], '*', 'delivery', 'alert:' .. ARGV[3] .. ':' .. seq,
  'channel', ARGV[3], 'kind', 'alert', 'items', '[' .. table.concat(items, ',') .. ']')
redis.call('SET', KEYS[2], ARGV[1], 'EX', math.ceil(gap * 10))
if waiting > take then redis.call('ZADD', KEYS[3], now + gap, ARGV[3])
else redis.call('ZREM', KEYS[3], ARGV[3]) end
return #items
"""


# KEYS: the fired hash, each story's alerted set, each DM target's batch list, each
# channel alert's channel deliveries (``{c:<channel>}:out``).
# ARGV: now, keep, ttl, and the batch as JSON: {"s": [[story id, [[target number (a
# negative one: -n for the n-th channel of "c"), alert id, words number], ...]], ...],
# "w": [words as JSON, ...], "c": [channel, ...]}.
# A new channel-alert match is queued on its channel in this same script (so no crash can
# record a match without queueing it). Returns the DM targets that got matches and how many
# matches were new. Commands are per story and per target, never per match: a batch can
# hold thousands of matches.
_RECORD = """
local now, keep, ttl = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
local batch = cjson.decode(ARGV[4])
local stories = #batch.s
local CHUNK = 500
local function each_chunk(list, call)
  for first = 1, #list, CHUNK do call(unpack(list, first, math.min(first + CHUNK - 1, #list))) end
end
local fired, queued = {}, {}
local dms = #KEYS - 1 - stories - #batch.c
local number, fresh = 0, 0
for s, entry in ipairs(batch.s) do
  local key, story, found = KEYS[1 + s], cjson.encode(entry[1]), entry[2]
  local ids = {}
  for m, match in ipairs(found) do ids[m] = match[2] end
  local seen = {}
  each_chunk(ids, function(...)
    for _, flag in ipairs(redis.call('SMISMEMBER', key, ...)) do table.insert(seen, flag) end
  end)
  local added, new = {}, {}
  for m, match in ipairs(found) do
    number = number + 1
    local target, alert = match[1], match[2]
    if seen[m] == 0 and not added[alert] then
      added[alert] = true
      table.insert(new, alert)
      fresh = fresh + 1
      table.insert(fired, alert)
      table.insert(fired, now)
      local item = '{"a":' .. cjson.encode(alert) .. ',"s":' .. story ..
        ',"w":' .. batch.w[match[3] + 1] .. '}'
      if target < 0 then
        local channel = batch.c[-target]
        redis.call('RPUSH', KEYS[1 + stories + dms - target], cjson.encode({
          delivery = 'alert:' .. alert .. ':' .. entry[1], channel = channel,
          kind = 'alert', items = '[' .. item .. ']'}))
      else
        queued[target] = queued[target] or {}
        table.insert(queued[target], item)
      end
    end
  end
  each_chunk(new, function(...) redis.call('SADD', key, ...) end)
  redis.call('EXPIRE', key, ttl)
end
each_chunk(fired, function(...) redis.call('HSET', KEYS[1], ...) end)
local ready = {}
for target, items in pairs(queued) do
  local list = KEYS[1 + stories + target]
  each_chunk(items, function(...) redis.call('RPUSH', list, ...) end)
  redis.call('LTRIM', list, -keep, -1)
  table.insert(ready, target)
end
return {ready, fresh}
"""


def dm_target(platform: str, user: str) -> str:
    """Where a member's alert DMs are queued: ``{platform}:dm:{user}``."""
    return str(ChannelRef(platform, DM, user))


@dataclass(frozen=True)
class Alert:
    """One keyword alert: whose, where it was made, where it posts, what it looks for."""

    id: str
    platform: str
    workspace: str
    user: str
    origin: str  # the channel it was made in
    query: str
    channel: str = ""  # a channel alert's channel; empty for a personal (DM) alert
    created_at: float = 0.0

    @functools.cached_property
    def owner(self) -> str:
        return f"{self.platform}:{self.user}"

    @functools.cached_property
    def target(self) -> str:
        return self.channel or dm_target(self.platform, self.user)

    def to_json(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False)

    @classmethod
    def from_json(cls, raw: str) -> Alert:
        return cls(**json.loads(raw))


class Match(NamedTuple):
    """A story an alert matched, and the words to highlight."""

    alert_id: str
    story_id: str
    words: tuple[str, ...]

    def to_json(self) -> str:
        return json.dumps({"a": self.alert_id, "s": self.story_id, "w": list(self.words)})

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Match:
        return cls(str(data["a"]), str(data["s"]), tuple(str(w) for w in data.get("w", [])))


class AlertStore:
    """Add, list, remove, pause and resume alerts; record and queue their matches."""

    def __init__(self, client: Redis, keys: Keys, *, ttl: int = 30 * 86400) -> None:
        self._client = client
        self._keys = keys
        self._ttl = ttl
        self._flush = client.register_script(_FLUSH)
        self._record = client.register_script(_RECORD)

    async def add(
        self,
        *,
        origin: ChannelRef,
        user: str,
        query: str,
        channel: ChannelRef | None,
        limit: int,
        now: float,
    ) -> Alert:
        owner = f"{origin.platform}:{user}"
        if await self._client.scard(self._keys.alerts_of(owner)) >= limit:
            raise AlertError(
                f"you have {limit} alerts, the most allowed; remove one first "
                "(/news alert list shows their ids)"
            )
        number = await self._client.incr(self._keys.alerts_seq)
        alert = Alert(
            id=f"a{number}",
            platform=origin.platform,
            workspace=origin.workspace,
            user=user,
            origin=str(origin),
            query=query,
            channel=str(channel) if channel else "",
            created_at=now,
        )
        async with self._client.pipeline(transaction=True) as pipe:
            pipe.hset(self._keys.alerts, alert.id, alert.to_json())
            pipe.sadd(self._keys.alerts_of(owner), alert.id)
            pipe.incr(self._keys.alerts_version)
            await pipe.execute()
        return alert

    async def get(self, alert_id: str) -> Alert | None:
        raw = await self._client.hget(self._keys.alerts, alert_id)
        return Alert.from_json(str(raw)) if raw else None

    async def of_owner(self, platform: str, user: str) -> list[Alert]:
        ids = sorted(
            await self._client.smembers(self._keys.alerts_of(f"{platform}:{user}")),
            key=lambda a: int(a[1:]) if a[1:].isdigit() else 0,
        )
        if not ids:
            return []
        raws = await self._client.hmget(self._keys.alerts, ids)
        return [Alert.from_json(str(raw)) for raw in raws if raw]

    async def remove(self, platform: str, user: str, alert_id: str) -> bool:
        owner = f"{platform}:{user}"
        if not await self._client.sismember(self._keys.alerts_of(owner), alert_id):
            return False
        # A channel alert's channel is forgotten with it when nothing else keeps it (the
        # hourly clean-up, `bot.roles.channel_cleanup`).
        async with self._client.pipeline(transaction=True) as pipe:
            pipe.hdel(self._keys.alerts, alert_id)
            pipe.hdel(self._keys.alerts_fired, alert_id)
            pipe.srem(self._keys.alerts_of(owner), alert_id)
            pipe.incr(self._keys.alerts_version)
            await pipe.execute()
        return True

    async def all(self) -> list[Alert]:
        raws = await self._client.hvals(self._keys.alerts)
        return [Alert.from_json(str(raw)) for raw in raws]

    async def version(self) -> int:
        return int(await self._client.get(self._keys.alerts_version) or 0)

    async def pause(self, platform: str, user: str, until: float | str) -> None:
        await self._client.hset(self._keys.alerts_paused, f"{platform}:{user}", str(until))

    async def resume(self, platform: str, user: str) -> bool:
        """Resume a member's alerts; True when they were paused."""
        async with self._client.pipeline(transaction=True) as pipe:
            pipe.hdel(self._keys.alerts_paused, f"{platform}:{user}")
            pipe.hdel(self._keys.dm_closed(platform), user)
            paused, _ = await pipe.execute()
        return bool(paused)

    async def paused(self, owners: Sequence[str], now: float) -> set[str]:
        """Which of these owners have their alerts paused now."""
        if not owners:
            return set()
        values = await self._client.hmget(self._keys.alerts_paused, list(owners))
        return {
            owner
            for owner, value in zip(owners, values, strict=True)
            if value and (value == CLOSED or float(value) > now)
        }

    async def member_active(self, platform: str, user: str, now: float) -> None:
        """The member ran a command: forget that their DMs were closed (the next refusal is
        told again), and end a pause that is over or that closed DMs set, so neither record
        outlives its use."""
        async with self._client.pipeline(transaction=False) as pipe:
            pipe.hdel(self._keys.dm_closed(platform), user)
            pipe.hget(self._keys.alerts_paused, f"{platform}:{user}")
            _closed, paused = await pipe.execute()
        if paused and (paused == CLOSED or float(paused) <= now):
            await self._client.hdel(self._keys.alerts_paused, f"{platform}:{user}")

    async def pause_state(self, platform: str, user: str, now: float) -> str:
        """ "" when not paused; else until when, or CLOSED."""
        value = await self._client.hget(self._keys.alerts_paused, f"{platform}:{user}")
        if not value or (value != CLOSED and float(value) <= now):
            return ""
        return str(value)

    async def dms_closed(self, platform: str, user: str, now: float) -> str | None:
        """Record that a member's DMs are closed to the bot and pause their alerts until
        `alert resume`. The channel to tell them in (where they made their newest alert),
        the first time only; None after that, or when they have no alert."""
        if not await self._client.hsetnx(self._keys.dm_closed(platform), user, str(int(now))):
            return None
        await self.pause(platform, user, CLOSED)
        alerts = await self.of_owner(platform, user)
        return max(alerts, key=lambda a: a.created_at).origin if alerts else None

    async def last_fired(self, alert_ids: Sequence[str]) -> dict[str, float]:
        if not alert_ids:
            return {}
        values = await self._client.hmget(self._keys.alerts_fired, list(alert_ids))
        return {a: float(v) for a, v in zip(alert_ids, values, strict=True) if v}

    async def queue(self, alert: Alert, match: Match, now: float) -> int:
        return await self.record([(alert, match)], now)

    async def record(self, matches: Sequence[tuple[Alert, Match]], now: float) -> int:
        """Record a batch's matches in one script: each (alert, story) once, however many
        copies of the story arrive; then send them on. A channel alert's match goes to
        the outbox at once; a personal one waits in the member's next DM, sent now if
        their last was a minute ago, else when the minute is up. How many were new."""
        if not matches:
            return 0
        by_story: dict[str, list[tuple[Alert, Match]]] = {}
        for alert, match in matches:
            by_story.setdefault(match.story_id, []).append((alert, match))
        targets: dict[str, int] = {}
        channels: dict[str, int] = {}
        target_of: dict[str, int] = {}  # alert id -> target number, -n for a channel alert
        words_at: dict[tuple[str, ...], int] = {}
        grouped: list[tuple[str, list[tuple[int, str, int]]]] = []
        for story, found in by_story.items():
            rows = []
            for alert, match in found:
                target = target_of.get(alert.id)
                if target is None:
                    target = (
                        -channels.setdefault(alert.channel, len(channels) + 1)
                        if alert.channel
                        else targets.setdefault(alert.target, len(targets) + 1)
                    )
                    target_of[alert.id] = target
                words = words_at.setdefault(match.words, len(words_at))
                rows.append((target, alert.id, words))
            grouped.append((story, rows))
        batch = json.dumps(
            {"s": grouped, "w": [json.dumps(list(w)) for w in words_at], "c": list(channels)}
        )
        keys = [self._keys.alerts_fired]
        keys += [self._keys.story_alerted(story) for story in by_story]
        keys += [self._keys.alert_batch(target) for target in targets]
        keys += [self._keys.channel_out(channel) for channel in channels]
        ready, fresh = await self._record(keys=keys, args=[now, BATCH_KEEP, self._ttl, batch])
        await Forwarder(self._client, self._keys).forward(channels)
        names = list(targets)
        await self._flush_all([names[int(n) - 1] for n in ready], now)
        return int(fresh)

    async def _flush_all(self, targets: Sequence[str], now: float) -> None:
        """Flush the members' batches, but for those already waiting for their minute."""
        if not targets:
            return
        due = await self._client.zmscore(self._keys.alerts_due, list(targets))
        async with self._client.pipeline(transaction=False) as pipe:
            for target, when in zip(targets, due, strict=True):
                if when is not None and float(when) > now:
                    continue
                platform = ChannelRef.parse(target).platform
                await self._flush(
                    keys=self._flush_keys(platform, target),
                    args=[now, DM_GAP, target, BATCH_MAX],
                    client=pipe,
                )
            await pipe.execute()

    def _flush_keys(self, platform: str, target: str) -> list[str]:
        return [
            self._keys.alert_batch(target),
            self._keys.alert_last(target),
            self._keys.alerts_due,
            self._keys.outbox(platform),
            self._keys.alert_batches,
        ]

    async def flush(self, platform: str, target: str, now: float) -> int:
        """Queue the member's waiting matches as one DM if a minute has passed since the
        last; else mark the batch due then. How many matches went out."""
        keys = self._flush_keys(platform, target)
        return int(await self._flush(keys=keys, args=[now, DM_GAP, target, BATCH_MAX]))

    async def flush_due(self, now: float | None = None) -> int:
        """Send every batch whose minute is up; how many matches went out."""
        now = time.time() if now is None else now
        due = await self._client.zrangebyscore(self._keys.alerts_due, "-inf", now)
        sent = 0
        for target in map(str, due):
            sent += await self.flush(ChannelRef.parse(target).platform, target, now)
        return sent
