"""The search index on Redis: words of stories' titles, summaries and sources, by day.

Each new story gets a short number (base 36 of a counter). The index is bucketed per day of
the story's time, like the fold index: ``{sx}:{day}:{bucket}`` hashes map a word (folded,
plural-insensitive, no stopwords) to the space-separated numbers of that day's stories that
use it, and ``{sx}:{day}:ids`` maps numbers back to story ids. A word costs a story about six
bytes. Every key of a day expires with the retention period, so the index is bounded like
the stories it points at, and searching never scans stories: it reads the posting lists of
the query's words over the retention window, then checks each candidate against the full
query (`handlers.query.matches`), newest first.
"""

from __future__ import annotations

import time
import zlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from redis.asyncio import Redis

from bot.store.keys import Keys
from bot.store.stories import load_stories, story_time
from handlers.article import Article
from handlers.offload import off_loop
from handlers.query import And, Node, Not, Or, QueryError, Term, matches, parse_query, words_of
from handlers.story import Story
from handlers.summarize import STOPWORDS

_BUCKETS = 256
_DIGITS = "0123456789abcdefghijklmnopqrstuvwxyz"

# KEYS: the ids hash, then one bucket per word; ARGV: number, story id, ttl, then the words.
_INDEX = """
local number, story, ttl = ARGV[1], ARGV[2], ARGV[3]
redis.call('HSET', KEYS[1], number, story)
redis.call('EXPIRE', KEYS[1], ttl)
for i = 2, #KEYS do
  local word = ARGV[i + 2]
  local current = redis.call('HGET', KEYS[i], word)
  redis.call('HSET', KEYS[i], word, current and (current .. ' ' .. number) or number)
  redis.call('EXPIRE', KEYS[i], ttl)
end
return #KEYS
"""


def _base36(value: int) -> str:
    out = ""
    while True:
        value, digit = divmod(value, 36)
        out = _DIGITS[digit] + out
        if not value:
            return out


def indexable(word: str) -> bool:
    return len(word) > 1 and word not in STOPWORDS


def index_words(*texts: str) -> list[str]:
    """The distinct indexable words of some texts, in first-seen order."""
    return list(dict.fromkeys(w for text in texts for w in words_of(text) if indexable(w)))


def _bucket(word: str) -> str:
    return f"{zlib.crc32(word.encode()) % _BUCKETS:02x}"


@dataclass(frozen=True)
class SearchEntry:
    """What the store step indexes for one new story."""

    story_id: str
    when: datetime
    title: str
    summary: str
    source: str


class SearchIndex:
    """Index stories as they are stored, and answer queries from the index."""

    def __init__(
        self, client: Redis, keys: Keys, *, ttl: int, clock: Callable[[], float] = time.time
    ) -> None:
        self._client = client
        self._keys = keys
        self._ttl = ttl
        self._clock = clock
        self._index = client.register_script(_INDEX)

    async def add_articles(self, articles: Sequence[Article]) -> None:
        """Index new stories, dated as the store dates them."""
        await self.add(
            [
                SearchEntry(
                    a.story_id,
                    datetime.fromtimestamp(story_time(a, self._ttl), UTC),
                    a.title,
                    a.summary,
                    a.source,
                )
                for a in articles
            ]
        )

    def _day(self, when: datetime) -> str:
        return when.astimezone(UTC).strftime("%Y%m%d")

    async def add(self, entries: Sequence[SearchEntry]) -> None:
        if not entries:
            return
        # Tokenising a batch's titles and summaries is CPU work: off the event loop.
        word_lists = await off_loop(
            lambda: [index_words(e.title, e.summary, e.source) for e in entries]
        )
        first = await self._client.incrby(self._keys.search_counter, len(entries))
        now = datetime.fromtimestamp(self._clock(), UTC)
        async with self._client.pipeline(transaction=False) as pipe:
            for offset, (entry, words) in enumerate(zip(entries, word_lists, strict=True)):
                number = _base36(first - len(entries) + offset + 1)
                day = self._day(entry.when)
                expires = entry.when.astimezone(UTC) + timedelta(seconds=self._ttl)
                ttl = int(max((expires - now).total_seconds(), 86400))
                keys = [self._keys.search_ids(day)]
                keys += [self._keys.search_words(day, _bucket(w)) for w in words]
                await self._index(
                    keys=keys, args=[number, entry.story_id, ttl, *words], client=pipe
                )
            await pipe.execute()

    def _days(self) -> list[str]:
        today = datetime.fromtimestamp(self._clock(), UTC)
        count = self._ttl // 86400 + 2
        return [self._day(today - timedelta(days=n)) for n in range(-1, count)]

    async def _postings(self, words: Iterable[str], days: list[str]) -> dict[str, set[str]]:
        """word -> {"day:number", …} over the given days."""
        wanted = sorted(set(words))
        async with self._client.pipeline(transaction=False) as pipe:
            for word in wanted:
                for day in days:
                    pipe.hget(self._keys.search_words(day, _bucket(word)), word)
            values = await pipe.execute()
        found: dict[str, set[str]] = {word: set() for word in wanted}
        cells = iter(values)
        for word in wanted:
            for day in days:
                value = next(cells)
                if value:
                    found[word].update(f"{day}:{n}" for n in str(value).split())
        return found

    async def search(
        self, query: str, *, feed_ids: Iterable[str] | None = None, limit: int = 10
    ) -> list[Story]:
        """Stories matching `query`, newest first; only those a copy of which came from one
        of `feed_ids`, when given. Raises `QueryError` for a malformed or unindexable query."""
        node = parse_query(query)
        if any(term.field == "author" for term in _terms(node)):
            # Stories keep no author (the store keeps what digests show), so author: could
            # never match here; filters and alerts see the feed's author at ingest.
            at = query.lower().find("author:")
            raise QueryError(
                "search covers titles, summaries and sources; author: works in feed filters",
                query,
                max(at, 0),
            )
        days = self._days()
        postings = await self._postings(_words_needed(node), days)
        candidates = _candidates(node, postings)
        if candidates is None:
            raise QueryError("add a word that is not a common one to search for", query, 0)
        allowed = set(feed_ids) if feed_ids is not None else None
        by_day: dict[str, list[str]] = {}
        for cell in candidates:
            by_day.setdefault(cell.split(":")[0], []).append(cell)
        results: list[Story] = []
        for day in sorted(by_day, reverse=True):  # a day's stories are all newer than the next
            found = [
                story
                for story in await load_stories(
                    self._client, self._keys, await self._resolve(by_day[day])
                )
                if (allowed is None or any(c.feed_id in allowed for c in story.copies))
                and matches(node, _fields(story))
            ]
            results += sorted(found, key=_story_time, reverse=True)
            if len(results) >= limit:
                break
        return results[:limit]

    async def _resolve(self, cells: list[str]) -> list[str]:
        async with self._client.pipeline(transaction=False) as pipe:
            for cell in cells:
                day, number = cell.split(":")
                pipe.hget(self._keys.search_ids(day), number)
            ids = await pipe.execute()
        return list(dict.fromkeys(str(i) for i in ids if i))


def _story_time(story: Story) -> datetime:
    primary = story.primary()
    return primary.published or primary.seen


def _fields(story: Story) -> dict[str, str]:
    primary = story.primary()
    return {
        "title": " \n ".join(c.title for c in story.copies),
        "source": " \n ".join(c.source for c in story.copies),
        "text": f"{primary.title}\n{story.summary}",
    }


def _terms(node: Node) -> list[Term]:
    if isinstance(node, Term):
        return [node]
    if isinstance(node, Not):
        return _terms(node.operand)
    return [term for operand in node.operands for term in _terms(operand)]


def _words_needed(node: Node) -> set[str]:
    if isinstance(node, Term):
        return {w for w in node.words if indexable(w)}
    if isinstance(node, Not):
        return set()
    return {w for operand in node.operands for w in _words_needed(operand)}


def _candidates(node: Node, postings: dict[str, set[str]]) -> set[str] | None:
    """Cells that may match; None when the index cannot narrow `node` down."""
    if isinstance(node, Term):
        lists = [postings[w] for w in node.words if indexable(w)]
        return set.intersection(*lists) if lists else None
    if isinstance(node, Not):
        return None
    found = [_candidates(operand, postings) for operand in node.operands]
    if isinstance(node, And):
        narrowed = [f for f in found if f is not None]
        return set.intersection(*narrowed) if narrowed else None
    assert isinstance(node, Or)
    if any(f is None for f in found):
        return None
    return set().union(*[f for f in found if f is not None])
