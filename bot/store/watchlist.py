"""The watch list: feeds newsbot polls, their fetch state, and the due-time ZSET.

Feeds get short stable ids (``f1``, ``f2`` …). Claiming due feeds is one Lua script that
reads the due members and pushes each one's score forward by a lease in the same step, so
several processes share the polling without ever polling one feed twice in an interval;
a process that dies mid-poll loses its lease and the feed comes due again.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any, cast
from urllib.parse import urlsplit

from redis.asyncio import Redis
from redis.typing import EncodableT, FieldT

from bot.errors import NewsbotError
from bot.store.batch import lua
from bot.store.keys import Keys
from bot.store.visibility_version import bump_visibility
from handlers.redact import redact_url
from handlers.safe_text import neutral, one_line, printable

_CLAIM_DUE = lua(
    """
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[2]))
for _, member in ipairs(due) do
  redis.call('ZADD', KEYS[1], 'XX', ARGV[3], member)
end
return due
"""
)

# KEYS[1] the feed id counter; ARGV[1] the number a removed new feed had. The counter goes
# back only while that number is still its last, so no id is ever handed out twice.
_GIVE_BACK = lua(
    """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DECR', KEYS[1]) end
return -1
"""
)


class InvalidFeedURL(NewsbotError):
    """A URL given for the watch list is not an absolute http(s) URL."""


def check_feed_url(url: str) -> str:
    """Return the URL trimmed, or raise `InvalidFeedURL` saying what is wrong."""
    url = url.strip()
    try:
        parts = urlsplit(url)
    except ValueError as exc:
        raise InvalidFeedURL(f"not a URL: {url!r}") from exc
    if parts.scheme.lower() not in {"http", "https"} or not parts.hostname:
        raise InvalidFeedURL(
            f"not an http(s) feed URL: {url!r} (example: https://example.com/feed.xml)"
        )
    return url


@dataclass
class FeedRecord:
    """One watched feed and what newsbot knows of its health."""

    id: str
    url: str
    title: str = ""
    interval: float | None = None
    etag: str = ""
    last_modified: str = ""
    added_at: float = 0.0
    last_fetch: float = 0.0
    last_ok: float = 0.0
    last_error: str = ""
    failing_since: float = 0.0
    down_notice: float = 0.0
    failures: int = 0
    warning: str = ""
    entries: int = 0
    id_mode: str = "guid"
    id_snapshot: str = ""
    origin: str = ""  # CHAT when only /news subscribe asked for it; else the CLI or config

    @property
    def shown_url(self) -> str:
        """The URL as newsbot shows it: credentials masked, no control characters."""
        return printable(redact_url(self.url))

    @property
    def shown_title(self) -> str:
        return neutral(one_line(self.title))

    @classmethod
    def from_hash(cls, feed_id: str, data: dict[str, str]) -> FeedRecord:
        record = cls(id=feed_id, url=data.get("url", ""))
        for field in fields(cls):
            raw = data.get(field.name)
            if raw is None or field.name in {"id", "url"}:
                continue
            value: Any = raw
            if field.name in {"added_at", "last_fetch", "last_ok", "failing_since", "down_notice"}:
                value = float(raw)
            elif field.name == "interval":
                value = float(raw) if raw else None
            elif field.name in {"failures", "entries"}:
                value = int(raw)
            setattr(record, field.name, value)
        return record


CHAT = "chat"


class Watchlist:
    """Feed registry operations on Redis."""

    def __init__(self, client: Redis, keys: Keys) -> None:
        self._client = client
        self._keys = keys
        self._claim = client.register_script(_CLAIM_DUE)
        self._give_back = client.register_script(_GIVE_BACK)

    async def add(
        self,
        url: str,
        *,
        now: float,
        interval: float | None = None,
        title: str = "",
        origin: str = "",
        due: float | None = None,
    ) -> tuple[FeedRecord, bool]:
        """Watch `url` (due at `due`, default at once); return its record and whether it
        is new. A feed the CLI or the config adds (no `origin`) stays watched for good,
        even one first added from chat."""
        url = check_feed_url(url)
        existing = await self.get(url)
        if existing is not None:
            if existing.origin and not origin:
                async with self._client.pipeline(transaction=False) as pipe:
                    pipe.hset(self._keys.feed(existing.id), "origin", "")
                    bump_visibility(pipe, self._keys)  # it may join the coverage set
                    await pipe.execute()
                existing.origin = ""
            return existing, False
        feed_id = f"f{await self._client.incr(self._keys.feed_seq)}"
        if not await self._client.hsetnx(self._keys.feeds_by_url, url, feed_id):
            # Another process added it between our look-up and now: theirs stands.
            again = await self.get(url)
            if again is not None:
                return again, False
        mapping: dict[FieldT, EncodableT] = {
            "url": url,
            "added_at": now,
            "title": title,
            "origin": origin,
        }
        if interval:
            mapping["interval"] = interval
        async with self._client.pipeline(transaction=False) as pipe:
            pipe.hset(self._keys.feed(feed_id), mapping=mapping)
            pipe.zadd(self._keys.feeds_due, {feed_id: now if due is None else due})
            bump_visibility(pipe, self._keys)
            await pipe.execute()
        record = await self.get(feed_id)
        assert record is not None
        return record, True

    async def set_interval(self, feed_id: str, interval: float) -> None:
        """Poll the feed every `interval` seconds from its next poll on."""
        await self._client.hset(self._keys.feed(feed_id), "interval", interval)

    async def resolve_id(self, id_or_url: str) -> str | None:
        text = id_or_url.strip()
        if text.startswith(("http://", "https://")):
            return cast(str | None, await self._client.hget(self._keys.feeds_by_url, text))
        if await self._client.exists(self._keys.feed(text)):
            return text
        return None

    async def get(self, id_or_url: str) -> FeedRecord | None:
        feed_id = await self.resolve_id(id_or_url)
        if feed_id is None:
            return None
        data = cast(dict[str, str], await self._client.hgetall(self._keys.feed(feed_id)))
        return FeedRecord.from_hash(feed_id, data) if data else None

    async def remove(self, id_or_url: str) -> FeedRecord | None:
        record = await self.get(id_or_url)
        if record is None:
            return None
        async with self._client.pipeline(transaction=False) as pipe:
            pipe.zrem(self._keys.feeds_due, record.id)
            pipe.hdel(self._keys.feeds_by_url, record.url)
            pipe.delete(self._keys.feed(record.id))
            bump_visibility(pipe, self._keys)
            await pipe.execute()
        return record

    async def forget_new(self, record: FeedRecord) -> None:
        """Remove a feed just added that turned out unusable (a subscribe that failed),
        and give its id back when no feed was added since, so it leaves no trace."""
        await self.remove(record.id)
        number = record.id[1:]
        if number.isdigit():
            await self._give_back(keys=[self._keys.feed_seq], args=[number])

    async def all(self) -> list[FeedRecord]:
        by_url = cast(dict[str, str], await self._client.hgetall(self._keys.feeds_by_url))
        ids = list(by_url.values())
        async with self._client.pipeline(transaction=False) as pipe:
            for feed_id in ids:
                pipe.hgetall(self._keys.feed(feed_id))
            rows = await pipe.execute()
        records = [FeedRecord.from_hash(i, row) for i, row in zip(ids, rows, strict=True) if row]
        return sorted(records, key=lambda r: int(r.id[1:]) if r.id[1:].isdigit() else 0)

    async def claim_due(self, *, now: float, limit: int, lease: float) -> list[FeedRecord]:
        """Atomically take up to `limit` due feeds, leasing each for `lease` seconds."""
        ids = await self._claim(keys=[self._keys.feeds_due], args=[now, limit, now + lease])
        if not ids:
            return []
        async with self._client.pipeline(transaction=False) as pipe:
            for feed_id in ids:
                pipe.hgetall(self._keys.feed(feed_id))
            rows = cast(list[dict[str, str]], await pipe.execute())
        # A feed removed since it was claimed has no hash left: nothing to poll.
        return [FeedRecord.from_hash(i, row) for i, row in zip(ids, rows, strict=True) if row]

    async def next_due(self) -> float | None:
        first = await self._client.zrange(self._keys.feeds_due, 0, 0, withscores=True)
        return float(first[0][1]) if first else None

    async def reschedule(self, feed_id: str, due: float) -> None:
        await self._client.zadd(self._keys.feeds_due, {feed_id: due}, xx=True)

    async def record(self, feed_id: str, due: float, **state: EncodableT) -> None:
        """Store fetch state and the next due time, unless the feed was removed meanwhile."""
        if not await self._client.exists(self._keys.feed(feed_id)):
            return
        async with self._client.pipeline(transaction=False) as pipe:
            pipe.hset(self._keys.feed(feed_id), mapping=cast(dict[FieldT, EncodableT], state))
            pipe.zadd(self._keys.feeds_due, {feed_id: due}, xx=True)
            await pipe.execute()
