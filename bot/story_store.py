"""Stories in Redis: the dedup index behind `DedupStep`, and the store step.

A story is one hash ``story:{sid}``: ``summary``, ``method`` and ``first`` (the field of the
copy that created it) from its first copy, plus
one field per copy, ``c:{feed_id}:{entry_hash}``, holding that copy's compact JSON. Writing
a copy is one HSET of its own field, so workers storing copies of one story at once never
overwrite each other, and a retried batch rewrites the same fields (idempotent). Full text
is never stored. Every key expires with the retention period; the time-scored ZSETs are
trimmed by score, since Redis 6.2 has no per-member TTL.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

from redis.asyncio import Redis
from redis.typing import EncodableT, FieldT

from bot.keys import Keys
from handlers.article import Article
from handlers.dedup import Claim, Holder
from handlers.story import Story, StoryCopy

_COPY_PREFIX = "c:"
_DAY = 86400.0


class RedisDedupIndex:
    """`DedupIndex` on Redis: SET NX with the retention TTL, first writer wins.

    A claim's value is "story-id ingest-id version".
    """

    def __init__(self, client: Redis, keys: Keys, *, ttl: int) -> None:
        self._client = client
        self._keys = keys
        self._ttl = ttl

    def _key(self, claim: Claim) -> str:
        if claim.kind == "entry":
            return self._keys.entry_seen(claim.scope, claim.ident)
        return self._keys.url_seen(claim.ident)

    @staticmethod
    def _value(claim: Claim) -> str:
        return f"{claim.story_id} {claim.token} {claim.version}".rstrip()

    async def claim(self, claims: Sequence[Claim]) -> list[Holder | None]:
        if not claims:
            return []
        keys = [self._key(c) for c in claims]
        async with self._client.pipeline(transaction=False) as pipe:
            for key, c in zip(keys, claims, strict=True):
                pipe.set(key, self._value(c), nx=True, ex=self._ttl)
            won = await pipe.execute()
        lost = [i for i, ok in enumerate(won) if not ok]
        holders: list[Holder | None] = [None] * len(claims)
        if lost:
            values = await self._client.mget([keys[i] for i in lost])
            for i, value in zip(lost, values, strict=True):
                if value:
                    story_id, token, version = ([*str(value).split(" "), "", ""])[:3]
                    holders[i] = Holder(story_id, token, version)
        return holders

    async def repoint(self, claims: Sequence[Claim]) -> None:
        if not claims:
            return
        async with self._client.pipeline(transaction=False) as pipe:
            for c in claims:
                pipe.set(self._key(c), self._value(c), xx=True, keepttl=True)
            await pipe.execute()


def _score(article: Article, retention: float) -> float:
    """Sort key for the time ZSETs: published time, kept within [seen - retention + 1 d, seen]."""
    seen = article.seen_at.timestamp()
    published = article.published.timestamp() if article.published else seen
    return min(max(published, seen - retention + _DAY), seen)


class StoreStep:
    """Pipeline step that writes stories and their copies (see the module docstring)."""

    name = "store"
    required = True

    def __init__(
        self, client: Redis, keys: Keys, *, ttl: int, clock: Callable[[], float] = time.time
    ) -> None:
        self._client = client
        self._keys = keys
        self._ttl = ttl
        self._clock = clock

    async def run(self, articles: Sequence[Article]) -> list[Article]:
        if not articles:
            return []
        horizon = self._clock() - self._ttl
        first_of = await self._first_copies([a for a in articles if a.update])
        async with self._client.pipeline(transaction=False) as pipe:
            for article in articles:
                key = self._keys.story(article.story_id)
                field = _copy_field(article)
                mapping: dict[FieldT, EncodableT] = {field: _copy_json(article)}
                if not article.is_copy:
                    mapping["first"] = field
                if not article.is_copy or first_of.get(article.story_id) == field:
                    mapping |= {"summary": article.summary, "method": article.summary_method}
                pipe.hset(key, mapping=mapping)
                pipe.expire(key, self._ttl)
                if article.update:
                    continue
                score = _score(article, self._ttl)
                if not article.is_copy:
                    pipe.zadd(self._keys.stories, {article.story_id: score})
                pipe.zadd(self._keys.feed_stories(article.feed_id), {article.story_id: score})
            for feed_id in {a.feed_id for a in articles}:
                pipe.zremrangebyscore(self._keys.feed_stories(feed_id), "-inf", horizon)
                pipe.expire(self._keys.feed_stories(feed_id), self._ttl)
            pipe.zremrangebyscore(self._keys.stories, "-inf", horizon)
            await pipe.execute()
        return list(articles)

    async def _first_copies(self, updates: Sequence[Article]) -> dict[str, str]:
        """For edited entries: which copy created each of their stories."""
        if not updates:
            return {}
        async with self._client.pipeline(transaction=False) as pipe:
            for article in updates:
                pipe.hget(self._keys.story(article.story_id), "first")
            firsts = await pipe.execute()
        return {a.story_id: str(f) for a, f in zip(updates, firsts, strict=True) if f}


def _copy_field(article: Article) -> str:
    return f"{_COPY_PREFIX}{article.feed_id}:{article.entry_hash}"


def _copy_json(article: Article) -> str:
    record = {
        "i": article.id,
        "t": article.title,
        "u": article.url,
        "s": article.source,
        "f": article.feed_id,
        "p": int(article.published.timestamp()) if article.published else None,
        "n": int(article.seen_at.timestamp()),
    }
    if article.backlog:
        record["b"] = 1
    return json.dumps(record, ensure_ascii=False, separators=(",", ":"))


def _copy_from_json(text: str, *, first: bool) -> StoryCopy:
    data = json.loads(text)
    published = datetime.fromtimestamp(data["p"], UTC) if data.get("p") is not None else None
    return StoryCopy(
        id=data["i"],
        title=data["t"],
        url=data["u"],
        source=data["s"],
        feed_id=data["f"],
        published=published,
        seen=datetime.fromtimestamp(data["n"], UTC),
        first=first,
        backlog=bool(data.get("b")),
    )


async def load_stories(client: Redis, keys: Keys, story_ids: Sequence[str]) -> list[Story]:
    """Read stories by id, in the order given, skipping any that expired."""
    async with client.pipeline(transaction=False) as pipe:
        for story_id in story_ids:
            pipe.hgetall(keys.story(story_id))
        rows = await pipe.execute()
    stories = []
    for story_id, row in zip(story_ids, rows, strict=True):
        if not row:
            continue
        copies = tuple(
            _copy_from_json(value, first=field == row.get("first"))
            for field, value in row.items()
            if field.startswith(_COPY_PREFIX)
        )
        stories.append(Story(story_id, row.get("summary", ""), row.get("method", ""), copies))
    return stories
