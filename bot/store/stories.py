"""Stories in Redis: the dedup index behind `DedupStep`, and the store step.

A story is one string key ``story:{sid}`` holding compact JSON: ``s`` the summary, ``m`` the
method that made it, ``f`` the copy that created the story, and ``c`` one entry per copy
(``{feed_id}:{entry_hash}`` -> title, URL, source, feed, times, author, and the copy's own
summary: each copy is shown from what it brought itself, `handlers.visibility`). A string
costs far less
than a hash whose values are longer than Redis's compact encoding allows. Copies are merged
in by a Lua script, so workers storing copies of one story at once never overwrite each
other, and a retried batch rewrites the same entries (idempotent). Full text is never
stored. Every key expires with the retention period; the time-scored ZSETs are trimmed by
score, since Redis 6.2 has no per-member TTL.
"""

from __future__ import annotations

import json
import time
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from redis.asyncio import Redis
from redis.asyncio.client import Pipeline as RedisPipeline

from bot.store.batch import Call, get_many, lua, run_batch
from bot.store.keys import Keys
from handlers.article import Article
from handlers.dedup import Claim, Holder, entry_claim
from handlers.story import Story, StoryCopy

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
            values = await get_many(self._client, [keys[i] for i in lost])
            for i, value in zip(lost, values, strict=True):
                if value:
                    story_id, token, version = ([*str(value).split(" "), "", ""])[:3]
                    holders[i] = Holder(story_id, token, version)
        return holders

    async def repoint(self, claims: Sequence[Claim]) -> None:
        if not claims:
            return
        async with self._client.pipeline(transaction=False) as pipe:
            self.queue_repoint(pipe, claims)
            await pipe.execute()

    def queue_repoint(self, pipe: RedisPipeline, claims: Sequence[Claim]) -> None:
        """`repoint`, as commands queued on a pipeline the caller executes."""
        for c in claims:
            pipe.set(self._key(c), self._value(c), xx=True, keepttl=True)


def story_time(article: Article, retention: float) -> float:
    """Sort key for the time ZSETs: the published time, never after it was seen, and never so
    old that trimming by retention would drop the story at once (it keeps a day, or half the
    retention when that is shorter)."""
    seen = article.seen_at.timestamp()
    published = article.published.timestamp() if article.published else seen
    return min(max(published, seen - retention + min(_DAY, retention / 2)), seen)


# KEYS[1] the story; ARGV: copy field, copy JSON, the copy's summary, method, creates the
# story (1/0), is an edit (1/0), ttl, keep each copy's own summary (1/0). Merging in Lua
# keeps copies that workers store at the same time. A copy keeps its own summary as
# ``x``, or ``x: true`` when it is the story's summary word for word (syndication); before
# the story's summary changes, such copies get their own text back, so no copy ever shows
# another's.
_PUT_COPY = lua(
    """
local raw = redis.call('GET', KEYS[1])
local story = raw and cjson.decode(raw) or {c = {}}
local copy = cjson.decode(ARGV[2])
local creates = ARGV[5] == '1'
if creates or (ARGV[6] == '1' and story.f == ARGV[1]) then
  if story.s ~= nil and story.s ~= ARGV[3] then
    for field, other in pairs(story.c) do
      if other.x == true then other.x = story.s end
    end
  end
  story.s = ARGV[3]
  story.m = ARGV[4]
end
if creates then story.f = ARGV[1] end
if story.f ~= ARGV[1] and ARGV[8] == '1' then
  if story.s == ARGV[3] then copy.x = true else copy.x = ARGV[3] end
end
story.c[ARGV[1]] = copy
redis.call('SET', KEYS[1], cjson.encode(story), 'EX', ARGV[7])
return 1
"""
)

# Indexes new copies for search (`bot.store.search_index.SearchIndex.add_articles`).
SearchSink = Callable[[Sequence[Article]], Awaitable[None]]


class StoreStep:
    """Pipeline step that writes stories and their copies (see the module docstring)."""

    name = "store"
    required = True

    def __init__(
        self,
        client: Redis,
        keys: Keys,
        *,
        ttl: int,
        clock: Callable[[], float] = time.time,
        search: SearchSink | None = None,
        dedup: RedisDedupIndex | None = None,
        per_copy: bool = True,
    ) -> None:
        self._dedup = dedup
        # Each copy keeps its own summary, author and filter text, and is indexed for
        # search; off only for the benchmarks' baseline (before stories were projected).
        self._per_copy = per_copy
        self._client = client
        self._keys = keys
        self._ttl = ttl
        self._clock = clock
        self._search = search
        self._put = client.register_script(_PUT_COPY)

    async def run(self, articles: Sequence[Article]) -> list[Article]:
        if not articles:
            return []
        horizon = self._clock() - self._ttl
        puts: list[Call] = [
            (
                self._put,
                [self._keys.story(article.story_id)],
                [
                    _copy_field(article),
                    _copy_json(article, per_copy=self._per_copy),
                    article.summary,
                    article.summary_method,
                    "0" if article.is_copy else "1",
                    "1" if article.update else "0",
                    self._ttl,
                    "1" if self._per_copy else "0",
                ],
            )
            for article in articles
        ]
        await run_batch(self._client, puts, durable=True)
        async with self._client.pipeline(transaction=False) as pipe:
            for article in articles:
                if article.update:
                    continue
                score = story_time(article, self._ttl)
                if not article.is_copy:
                    pipe.zadd(self._keys.stories, {article.story_id: score})
                pipe.zadd(self._keys.feed_stories(article.feed_id), {article.story_id: score})
            for feed_id in {a.feed_id for a in articles}:
                pipe.zremrangebyscore(self._keys.feed_stories(feed_id), "-inf", horizon)
                pipe.expire(self._keys.feed_stories(feed_id), self._ttl)
            pipe.zremrangebyscore(self._keys.stories, "-inf", horizon)
            if self._dedup is not None:
                # An entry's claim was made at dedup, before its story id was final (a
                # shared link gets an id of its own, a page's canonical link another, a
                # fold the other story's): point it at the story it is stored in, so an
                # edit of the entry updates that story and no other.
                new = [a for a in articles if not a.update]
                self._dedup.queue_repoint(pipe, [entry_claim(a, a.story_id) for a in new])
            await pipe.execute()
        if self._search is not None:
            indexed = [a for a in articles if not a.update and (self._per_copy or not a.is_copy)]
            await self._search(indexed)
        return list(articles)


def _copy_field(article: Article) -> str:
    return f"{article.feed_id}:{article.entry_hash}"


def _copy_json(article: Article, *, per_copy: bool = True) -> str:
    record: dict[str, object] = {
        "i": article.id,
        "t": article.title,
        "u": article.url,
        "s": article.source,
        "f": article.feed_id,
        "n": int(article.seen_at.timestamp()),
    }
    if article.published:
        record["p"] = int(article.published.timestamp())
    if article.backlog:
        record["b"] = 1
    if not per_copy:
        return json.dumps(record, ensure_ascii=False, separators=(",", ":"))
    if article.author:
        record["a"] = article.author
    return json.dumps(record, ensure_ascii=False, separators=(",", ":"))


def _copy_from(data: dict[str, Any], *, first: bool, story_summary: str) -> StoryCopy:
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
        # A copy stored before copies kept their own summary shows none: never another's.
        summary=story_summary if first or data.get("x") is True else str(data.get("x") or ""),
        author=data.get("a", ""),
    )


async def load_stories(client: Redis, keys: Keys, story_ids: Sequence[str]) -> list[Story]:
    """Read stories by id, in the order given, skipping any that expired."""
    if not story_ids:
        return []
    rows = await get_many(client, [keys.story(story_id) for story_id in story_ids])
    stories = []
    for story_id, row in zip(story_ids, rows, strict=True):
        if not row:
            continue
        data = json.loads(row)
        summary = data.get("s", "")
        copies = tuple(
            _copy_from(copy, first=field == data.get("f"), story_summary=summary)
            for field, copy in data["c"].items()
        )
        stories.append(Story(story_id, data.get("s", ""), data.get("m", ""), copies))
    return stories


async def newest_stories(
    client: Redis, keys: Keys, feed_ids: Sequence[str], count: int, *, scan: int = 300
) -> list[Story]:
    """The `count` newest stored stories of the given feeds by publication time, each once.

    The feeds' ZSETs order stories by their stored time, which clamps old publication
    dates (see `story_time`), so the newest `scan` by that order are read and sorted by
    their own dates.
    """
    async with client.pipeline(transaction=False) as pipe:
        for feed_id in feed_ids:
            pipe.zrevrange(keys.feed_stories(feed_id), 0, scan - 1, withscores=True)
        rows = await pipe.execute()
    scored: dict[str, float] = {}
    for row in rows:
        for story_id, score in row:
            scored[str(story_id)] = max(score, scored.get(str(story_id), score))
    candidates = sorted(scored, key=lambda story_id: -scored[story_id])[:scan]
    stories = await load_stories(client, keys, candidates)

    def published(story: Story) -> float:
        primary = story.primary()
        return (primary.published or primary.seen).timestamp()

    return sorted(stories, key=published, reverse=True)[:count]


async def stories_since(
    client: Redis, keys: Keys, feed_ids: Sequence[str], since: float, *, most: int = 500
) -> list[Story]:
    """The stored stories of the given feeds stored at or after `since` (each feed's newest
    `most`), each once."""
    async with client.pipeline(transaction=False) as pipe:
        for feed_id in feed_ids:
            pipe.zrevrangebyscore(keys.feed_stories(feed_id), "+inf", since, start=0, num=most)
        rows = await pipe.execute()
    ids = list(dict.fromkeys(str(story_id) for row in rows for story_id in row))
    return await load_stories(client, keys, ids)
