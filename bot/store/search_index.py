"""The search index on Redis: words of each copy's title, summary and source, by day.

Every stored copy of a story (the first, and each copy folded into it) gets a short number
that names its feed: ``{code}.{n}``, the feed's code (``f123`` is ``3f``, base 36) and the
copy's place among that feed's copies of the day (``{sx:<day>}:seq`` counts them). Its words
are indexed: ``{sx:<day>}:{bucket}`` hashes map a word (folded, plural-insensitive, no
stopwords) to the space-separated numbers of that day's copies that use it, and
``{sx:<day>}:ids`` maps numbers back to story ids. A word costs a copy about seven bytes.
Every key of a day expires with the retention period, so the index is bounded like the
stories it points at.

Searching never scans stories. It reads the posting lists of the query's words over the
retention window and drops every number of a feed the audience may not see before anything
is resolved or loaded (`handlers.visibility`), so words only a private copy contains find
nothing elsewhere, and another channel's stories cost next to nothing. The stories left
are checked against the full query on their visible copies only
(`handlers.query.matches`), newest first, off the event loop and within a budget of CPU
time (`NEWSBOT_SEARCH_BUDGET_MS`): a query that would take longer answers with what it
found so far, marked partial. (Numbers without a feed, plain base 36, were
written before copies were indexed by feed: they stay candidates, checked once loaded.)
"""

from __future__ import annotations

import time
import zlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from redis.asyncio import Redis

from bot.store.batch import Call, lua, run_batch
from bot.store.keys import Keys
from bot.store.stories import load_stories, story_time
from handlers.article import Article
from handlers.offload import off_loop
from handlers.query import And, Node, Not, Or, QueryError, Term, matches, parse_query, words_of
from handlers.story import DigestItem, Story, StoryCopy
from handlers.summarize import STOPWORDS
from handlers.visibility import EVERYTHING, Audience, project

# CPU time one search may use (NEWSBOT_SEARCH_BUDGET_MS), and stories loaded at a time.
SEARCH_BUDGET_MS = 200.0
LOAD_BATCH = 200
T = TypeVar("T")
_BUCKETS = 256
_DIGITS = "0123456789abcdefghijklmnopqrstuvwxyz"

# KEYS: the day's ids hash, its per-feed counters, then one bucket per word; ARGV: the
# feed's code, story id, ttl, then the words. The copy's number is the code and its place
# among the feed's copies of the day, in base 36.
_INDEX = lua(
    """
local code, story, ttl = ARGV[1], ARGV[2], ARGV[3]
local n = redis.call('HINCRBY', KEYS[2], code, 1)
redis.call('EXPIRE', KEYS[2], ttl)
local digits, out = '0123456789abcdefghijklmnopqrstuvwxyz', ''
repeat
  local d = n % 36
  out = string.sub(digits, d + 1, d + 1) .. out
  n = (n - d) / 36
until n == 0
local number = code .. '.' .. out
redis.call('HSET', KEYS[1], number, story)
redis.call('EXPIRE', KEYS[1], ttl)
for i = 3, #KEYS do
  local word = ARGV[i + 1]
  local current = redis.call('HGET', KEYS[i], word)
  redis.call('HSET', KEYS[i], word, current and (current .. ' ' .. number) or number)
  redis.call('EXPIRE', KEYS[i], ttl)
end
return #KEYS
"""
)


def _base36(value: int) -> str:
    out = ""
    while True:
        value, digit = divmod(value, 36)
        out = _DIGITS[digit] + out
        if not value:
            return out


def feed_code(feed_id: str) -> str:
    """A feed's code in copy numbers: ``f123`` (every watched feed's id) as ``3f``, base 36;
    any other id as itself after ``~``."""
    if feed_id[:1] == "f" and feed_id[1:].isdigit():
        return _base36(int(feed_id[1:]))
    return "~" + feed_id.replace(".", "_").replace(" ", "_")


def indexable(word: str) -> bool:
    return len(word) > 1 and word not in STOPWORDS


def index_words(*texts: str) -> list[str]:
    """The distinct indexable words of some texts, in first-seen order."""
    return list(dict.fromkeys(w for text in texts for w in words_of(text) if indexable(w)))


def _bucket(word: str) -> str:
    return f"{zlib.crc32(word.encode()) % _BUCKETS:02x}"


@dataclass(frozen=True)
class SearchEntry:
    """What the store step indexes for one new copy of a story."""

    story_id: str
    when: datetime
    title: str
    summary: str
    source: str
    feed_id: str


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
        """Index new copies, dated as the store dates them."""
        await self.add(
            [
                SearchEntry(
                    a.story_id,
                    datetime.fromtimestamp(story_time(a, self._ttl), UTC),
                    a.title,
                    a.summary,
                    a.source,
                    a.feed_id,
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
        now = datetime.fromtimestamp(self._clock(), UTC)
        calls: list[Call] = []
        for entry, words in zip(entries, word_lists, strict=True):
            day = self._day(entry.when)
            expires = entry.when.astimezone(UTC) + timedelta(seconds=self._ttl)
            ttl = int(max((expires - now).total_seconds(), 86400))
            keys = [self._keys.search_ids(day), self._keys.search_sequence(day)]
            keys += [self._keys.search_words(day, _bucket(w)) for w in words]
            calls.append(
                (self._index, keys, [feed_code(entry.feed_id), entry.story_id, ttl, *words])
            )
        await run_batch(self._client, calls)

    def _days(self) -> list[str]:
        today = datetime.fromtimestamp(self._clock(), UTC)
        count = self._ttl // 86400 + 2
        return [self._day(today - timedelta(days=n)) for n in range(-1, count)]

    async def _postings(
        self, words: Iterable[str], days: list[str], audience: Audience, budget: CpuBudget
    ) -> dict[str, set[str]]:
        """word -> {"day:number", …} over the given days, of copies `audience` may see."""
        wanted = sorted(set(words))
        async with self._client.pipeline(transaction=False) as pipe:
            for word in wanted:
                for day in days:
                    pipe.hget(self._keys.search_words(day, _bucket(word)), word)
            values = await pipe.execute()
        seen = None if audience.everything else {feed_code(f) for f in audience.visible}
        return await off_loop(budget.run, _collect, wanted, days, values, seen)

    async def search(
        self,
        query: str,
        *,
        audience: Audience = EVERYTHING,
        limit: int = 10,
        budget_ms: float = SEARCH_BUDGET_MS,
    ) -> SearchResult:
        """Stories matching `query` on copies `audience` may see, newest first, each as
        that audience sees it (the earliest visible copy first). Raises `QueryError` for a
        malformed or unindexable query.

        The work runs off the event loop within `budget_ms` of CPU time: past it, the
        stories found so far come back, marked `partial`."""
        node = parse_query(query)
        if any(term.field == "author" for term in _terms(node)):
            # The index holds no author's words, so author: could never find a story here;
            # filters and alerts see each copy's author.
            at = query.lower().find("author:")
            raise QueryError(
                "search covers titles, summaries and sources; author: works in feed filters",
                query,
                max(at, 0),
            )
        budget = CpuBudget(budget_ms / 1000)
        days = self._days()
        postings = await self._postings(_words_needed(node), days, audience, budget)
        candidates = await off_loop(budget.run, _candidates, node, postings)
        if candidates is None:
            raise QueryError("add a word that is not a common one to search for", query, 0)
        by_day: dict[str, list[str]] = {}
        for cell in candidates:
            day, _, number = cell.partition(":")
            by_day.setdefault(day, []).append(number)
        results: list[DigestItem] = []
        for day in sorted(by_day, reverse=True):  # a day's stories are all newer than the next
            if budget.over:
                break
            story_ids = await self._client.hmget(self._keys.search_ids(day), by_day[day])
            unique = list(dict.fromkeys(str(i) for i in story_ids if i))
            # Newest first, so a search cut short by its budget has the newest hits.
            times = await self._client.zmscore(self._keys.stories, unique) if unique else []
            when = {i: float(t or 0) for i, t in zip(unique, times, strict=True)}
            unique.sort(key=lambda i: when[i], reverse=True)
            found: list[DigestItem] = []
            for first in range(0, len(unique), LOAD_BATCH):
                if budget.over:
                    break
                stories = await load_stories(
                    self._client, self._keys, unique[first : first + LOAD_BATCH]
                )
                found += await off_loop(budget.run, _matching, node, stories, audience, budget)
            results += sorted(found, key=_item_time, reverse=True)
            if len(results) >= limit:
                break
        return SearchResult(results[:limit], partial=budget.over and len(results) < limit)


@dataclass
class CpuBudget:
    """CPU seconds a search may spend in the worker thread (`time.thread_time`)."""

    seconds: float
    spent: float = 0.0

    @property
    def over(self) -> bool:
        return self.spent >= self.seconds

    def run(self, function: Callable[..., T], *args: Any) -> T:
        started = time.thread_time()
        try:
            return function(*args)
        finally:
            self.spent += time.thread_time() - started

    def left(self, since: float) -> bool:
        """Whether time is left, counting what the running piece spent since `since`."""
        return self.spent + time.thread_time() - since < self.seconds


@dataclass(frozen=True)
class SearchResult:
    items: list[DigestItem]
    partial: bool = False  # the budget ran out: these are the hits found so far


def _collect(
    wanted: list[str], days: list[str], values: list[Any], seen: set[str] | None
) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {word: set() for word in wanted}
    cells = iter(values)
    for word in wanted:
        for day in days:
            value = next(cells)
            if not value:
                continue
            numbers = str(value).split()
            if seen is not None:
                # A number without a code was written before copies named their feed.
                numbers = [n for n in numbers if n.partition(".")[0] in seen or "." not in n]
            found[word].update(f"{day}:{n}" for n in numbers)
    return found


def _matching(
    node: Node, stories: Sequence[Story], audience: Audience, budget: CpuBudget
) -> list[DigestItem]:
    """The stories that match on copies `audience` may see, as it sees them; stops early
    when the budget runs out."""
    started = time.thread_time()
    found = []
    for story in stories:
        if not budget.left(started):
            break
        copies = [c for c in story.copies if audience.sees(c)]
        if copies and matches(node, _fields(story, copies)):
            item = project(story, audience, own_primary=False)
            if item is not None:
                found.append(item)
    return found


def _item_time(item: DigestItem) -> datetime:
    return item.published or datetime.min.replace(tzinfo=UTC)


def _fields(story: Story, copies: Sequence[StoryCopy]) -> dict[str, str]:
    """What a query matches: the titles, sources and summaries of these copies only."""
    return {
        "title": " \n ".join(c.title for c in copies),
        "source": " \n ".join(c.source for c in copies),
        "text": " \n ".join(f"{c.title}\n{story.summary_of(c)}" for c in copies),
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
