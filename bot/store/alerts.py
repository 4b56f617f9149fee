"""Keyword alerts in Redis: the alerts themselves, pauses, and the DMs waiting to go.

Every key of a match's target (a member's DMs, ``{platform}:dm:{user}``, or a channel
alert's channel) has the target's hash tag ``{c:<target>}``, so one script per target
records which (alert, story) pairs it has had and queues the new ones, on a Redis Cluster
too. A personal alert's matches wait in ``{c:<target>}:alerts`` and go out as one DM at
most once a minute per member: the first match at once, the ones after it merged into the
next DM. A Lua script moves a batch onto the target's deliveries in one step, with a
delivery id, so a crash neither loses a batch nor sends it twice; ``{al}:due`` is marked
before and cleared after, so a crash in between leaves a batch due, never forgotten. A
channel alert's match goes to its channel at once, one message per story (delivery id:
alert and story).
"""

from __future__ import annotations

import functools
import json
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any, NamedTuple

from redis.asyncio import Redis

from bot.store.batch import Call, lua, run_batch
from bot.store.forwarding import Forwarder
from bot.store.keys import Keys
from handlers.alerts import AlertError
from handlers.channels import ChannelRef

DM_GAP = 60.0  # at most one alert DM a minute per member
BATCH_MAX = 10  # stories in one DM; the rest go in the next
BATCH_KEEP = 100  # matches kept waiting per member; older ones are dropped
CLOSED = "closed"
DM = "dm"

# KEYS: the member's batch list, last-sent, deliveries queue and DM counter (all of the
# tag {c:<dm target>}). ARGV: now, gap, target, batch max. Queues up to batch max waiting
# matches as one DM if a minute has passed since the last. Returns how many matches went,
# and when the next flush is due (0 when nothing waits).
_FLUSH = lua(
    """
local waiting = redis.call('LLEN', KEYS[1])
if waiting == 0 then return {0, '0'} end
local now, gap = tonumber(ARGV[1]), tonumber(ARGV[2])
local last = tonumber(redis.call('GET', KEYS[2]) or '0')
if now < last + gap then return {0, tostring(last + gap)} end
local take = tonumber(ARGV[4])
local items = redis.call('LRANGE', KEYS[1], 0, take - 1)
redis.call('LTRIM', KEYS[1], take, -1)
local seq = redis.call('INCR', KEYS[4])
redis.call('RPUSH', KEYS[3], cjson.encode({
  delivery = 'alert:' .. ARGV[3] .. ':' .. seq .. '@' .. ARGV[1], channel = ARGV[3],
  kind = 'alert', items = '[' .. table.concat(items, ',') .. ']'}))
redis.call('SET', KEYS[2], ARGV[1], 'EX', math.ceil(gap * 10))
if waiting > take then return {#items, tostring(now + gap)} end
return {#items, '0'}
"""
)


# KEYS: the target's matches so far (zset "alert story" -> when), and where its new
# matches go: a member's batch list, or a channel alert's channel deliveries
# (``{c:<channel>}:out``). Both have the target's hash tag, so a match is recorded and
# queued in one step. ARGV: now, keep, horizon (older matches are forgotten), ttl, kind
# ("dm" or "channel"), target, then per match: alert id, story id, item JSON.
# Returns the ids of the alerts that matched a story for the first time. Commands are
# per chunk of matches, never per match: a batch can hold thousands.
_RECORD = lua(
    """
local now, keep, ttl, kind, target = ARGV[1], tonumber(ARGV[2]), ARGV[4], ARGV[5], ARGV[6]
local CHUNK = 500
local names, items, alerts, stories = {}, {}, {}, {}
for i = 7, #ARGV, 3 do
  table.insert(alerts, ARGV[i]) table.insert(stories, ARGV[i + 1])
  table.insert(names, ARGV[i] .. ' ' .. ARGV[i + 1]) table.insert(items, ARGV[i + 2])
end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[3])
local fresh, added, marks, queued = {}, {}, {}, {}
for first = 1, #names, CHUNK do
  local last = math.min(first + CHUNK - 1, #names)
  local scores = redis.call('ZMSCORE', KEYS[1], unpack(names, first, last))
  for i = first, last do
    if not scores[i - first + 1] and not added[names[i]] then
      added[names[i]] = true
      table.insert(fresh, alerts[i])
      table.insert(marks, now) table.insert(marks, names[i])
      if kind == 'channel' then
        table.insert(queued, cjson.encode({delivery = 'alert:' .. alerts[i] .. ':' .. stories[i],
          channel = target, kind = 'alert', items = '[' .. items[i] .. ']'}))
      else
        table.insert(queued, items[i])
      end
    end
  end
end
for first = 1, #marks, 2 * CHUNK do
  redis.call('ZADD', KEYS[1], unpack(marks, first, math.min(first + 2 * CHUNK - 1, #marks)))
end
for first = 1, #queued, CHUNK do
  redis.call('RPUSH', KEYS[2], unpack(queued, first, math.min(first + CHUNK - 1, #queued)))
end
if kind ~= 'channel' then redis.call('LTRIM', KEYS[2], -keep, -1) end
redis.call('EXPIRE', KEYS[1], ttl)
return fresh
"""
)


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
        by_target: dict[str, list[tuple[Alert, Match]]] = {}
        for alert, match in matches:
            by_target.setdefault(alert.target, []).append((alert, match))
        dms = [target for target, found in by_target.items() if not found[0][0].channel]
        if dms:
            # Due first: a crash after recording leaves the batch due, never forgotten.
            await self._client.zadd(self._keys.alerts_due, dict.fromkeys(dms, now), lt=True)
        calls: list[Call] = []
        for target, found in by_target.items():
            kind = "channel" if found[0][0].channel else DM
            args: list[Any] = [now, BATCH_KEEP, now - self._ttl, self._ttl, kind, target]
            for alert, match in found:
                args += [alert.id, match.story_id, match.to_json()]
            queue = self._keys.channel_out(target) if kind == "channel" else None
            calls.append(
                (
                    self._record,
                    [self._keys.alert_seen(target), queue or self._keys.alert_batch(target)],
                    args,
                )
            )
        replies = await run_batch(self._client, calls)
        fired = {str(alert_id) for reply in replies for alert_id in reply}
        if fired:
            await self._client.hset(self._keys.alerts_fired, mapping=dict.fromkeys(fired, now))
        await Forwarder(self._client, self._keys).forward(
            [t for t, found in by_target.items() if found[0][0].channel]
        )
        ready = [t for t, reply in zip(by_target, replies, strict=True) if reply and t in dms]
        await self._flush_all(ready, now)
        return sum(len(reply) for reply in replies)

    async def _flush_all(self, targets: Sequence[str], now: float) -> int:
        """Flush the members' batches (each waits out its minute: the script checks);
        how many matches went out."""
        if not targets:
            return 0
        ready = list(targets)
        calls: list[Call] = [
            (self._flush, self._flush_keys(target), [now, DM_GAP, target, BATCH_MAX])
            for target in ready
        ]
        replies = await run_batch(self._client, calls)
        return await self._after_flush(ready, replies)

    async def _after_flush(self, targets: Sequence[str], replies: Sequence[Any]) -> int:
        """Keep ``{al}:due`` in step with what waits, and forward the DMs queued."""
        waiting = {t: float(r[1]) for t, r in zip(targets, replies, strict=True) if float(r[1])}
        done = [t for t in targets if t not in waiting]
        async with self._client.pipeline(transaction=False) as pipe:
            if waiting:
                pipe.zadd(self._keys.alerts_due, waiting)
            if done:
                pipe.zrem(self._keys.alerts_due, *done)
            await pipe.execute()
        sent = [t for t, r in zip(targets, replies, strict=True) if int(r[0])]
        await Forwarder(self._client, self._keys).forward(sent)
        return sum(int(r[0]) for r in replies)

    def _flush_keys(self, target: str) -> list[str]:
        return [
            self._keys.alert_batch(target),
            self._keys.alert_last(target),
            self._keys.channel_out(target),
            self._keys.alert_seq(target),
        ]

    async def flush(self, target: str, now: float) -> int:
        """Queue the member's waiting matches as one DM if a minute has passed since the
        last; else mark the batch due then. How many matches went out."""
        reply = await self._flush(
            keys=self._flush_keys(target), args=[now, DM_GAP, target, BATCH_MAX]
        )
        return await self._after_flush([target], [reply])

    async def flush_due(self, now: float | None = None) -> int:
        """Send every batch whose minute is up; how many matches went out."""
        now = time.time() if now is None else now
        due = await self._client.zrangebyscore(self._keys.alerts_due, "-inf", now)
        return await self._flush_all([str(target) for target in due], now)
