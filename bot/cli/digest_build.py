"""`newsbot digest`: run the whole pipeline once over some sources and collect the result.

Stateless for the user: it works on a throwaway Redis namespace (see `open_redis`), sends
no conditional headers, and so prints the same stories every time it runs. Sources are
fetched concurrently, but run through the pipeline in the order given, so which copy of a
story counts as first seen never depends on network timing.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

from bot.errors import FetchError, NewsbotError, ParseError, SourceError
from bot.net.fetch import Fetcher
from bot.net.local_files import file_url, read_local
from bot.net.opml import is_opml, read_opml
from bot.net.pages import FetcherPages
from bot.net.parse import FeedRef, ParsedFeed, parse_feed
from bot.roles.pipeline import build_pipeline
from bot.settings import Settings
from bot.store.connection import open_redis
from bot.store.stories import load_stories
from handlers.article import Article
from handlers.discovery import discovery_advice, feed_links, looks_like_html
from handlers.enrich import budget_pages, is_thin
from handlers.folding import frequency_words
from handlers.identity import resolve_identity
from handlers.normalize import normalize_article
from handlers.story import DigestItem
from handlers.story_match import CROSS_OUTLET_SCORE
from handlers.summarize import DEFAULT_BUDGET, Budget
from handlers.tfidf import FixedFrequencies
from handlers.visibility import EVERYTHING, project_all

MAX_FILE_BYTES = 50 * 1024 * 1024
MAX_OPML_DEPTH = 3
_FETCH_CONCURRENCY = 8


@dataclass(frozen=True)
class SourceFailure:
    """A source that gave nothing, and why, as shown in `stats.errors`."""

    source: str
    error: str


@dataclass
class DigestResult:
    """Everything `newsbot digest` prints."""

    generated_at: datetime
    items: list[DigestItem]
    feeds: int = 0
    entries: int = 0
    duplicates: int = 0
    unenriched: int = 0  # thin stories summarised from the feed's text: page capped or unread
    errors: list[SourceFailure] = field(default_factory=list)


@dataclass(frozen=True)
class _Document:
    name: str
    url: str
    data: bytes
    content_type: str = ""


Progress = Callable[[str], None]


def _is_url(source: str) -> bool:
    return urlsplit(source).scheme.lower() in {"http", "https"}


async def _load(source: str, fetcher: Fetcher) -> _Document:
    if _is_url(source):
        result = await fetcher.fetch(source)
        return _Document(source, result.url, result.body, result.content_type)
    data = await read_local(source, limit=MAX_FILE_BYTES)
    return _Document(source, file_url(source), data)


def _identity(source: str) -> str:
    """What makes two sources the same: the URL, or the real path of a file."""
    return source if _is_url(source) else os.path.realpath(os.path.expanduser(source))


async def _expand(
    sources: Sequence[str],
    fetcher: Fetcher,
    errors: list[SourceFailure],
    progress: Progress,
    *,
    seen: set[str] | None = None,
    depth: int = 0,
) -> list[_Document]:
    """Load every source; an OPML source is replaced by the feeds it lists, fetched too.

    Each source is read once, however many OPML files list it, so an OPML file that lists
    itself (or a loop of them) ends; OPML files nest at most `MAX_OPML_DEPTH` deep."""
    seen = set() if seen is None else seen
    limit = asyncio.Semaphore(_FETCH_CONCURRENCY)
    fresh = []
    for source in sources:
        identity = _identity(source)
        if identity not in seen:
            seen.add(identity)
            fresh.append(source)

    async def load(source: str) -> _Document | SourceFailure:
        async with limit:
            try:
                return await _load(source, fetcher)
            except NewsbotError as exc:
                return SourceFailure(source, str(exc))
            finally:
                progress(source)

    documents: list[_Document] = []
    for outcome in await asyncio.gather(*(load(s) for s in fresh)):
        if not isinstance(outcome, SourceFailure) and looks_like_html(
            outcome.data, outcome.content_type
        ):
            outcome = await _discovered(outcome, fetcher, seen)
        if isinstance(outcome, SourceFailure):
            errors.append(outcome)
        elif outcome.data == b"":
            continue  # a page whose one feed is already among the sources
        elif is_opml(outcome.data):
            listed = _listed(outcome, errors, depth=depth)
            documents.extend(
                await _expand(listed, fetcher, errors, progress, seen=seen, depth=depth + 1)
            )
        else:
            documents.append(outcome)
    return documents


async def _discovered(
    page: _Document, fetcher: Fetcher, seen: set[str]
) -> _Document | SourceFailure:
    """A web page given as a source: its one announced feed, fetched; else a failure that
    lists the feeds to choose from, or says where sites usually keep theirs."""
    links = feed_links(page.data, page.url)
    if len(links) == 1:
        feed = links[0].url
        if feed in seen:
            return _Document(page.name, feed, b"")
        seen.add(feed)
        try:
            found = await _load(feed, fetcher)
        except NewsbotError as exc:
            return SourceFailure(page.name, f"its feed {feed}: {exc}")
        return _Document(page.name, found.url, found.data, found.content_type)
    return SourceFailure(page.name, discovery_advice(page.url, links))


def _listed(opml: _Document, errors: list[SourceFailure], *, depth: int) -> list[str]:
    """The sources an OPML document lists that may be read: a remote OPML file names only
    http(s) feeds, never files on this machine."""
    if depth >= MAX_OPML_DEPTH:
        errors.append(
            SourceFailure(opml.name, f"OPML files nest deeper than {MAX_OPML_DEPTH}; not read")
        )
        return []
    try:
        listed = [feed.url for feed in read_opml(opml.data)]
    except SourceError as exc:
        errors.append(SourceFailure(opml.name, str(exc)))
        return []
    if not listed:
        errors.append(SourceFailure(opml.name, "OPML file lists no feeds"))
    if not _is_url(opml.name):
        return listed
    for source in (s for s in listed if not _is_url(s)):
        errors.append(
            SourceFailure(
                source, f"listed by {opml.name}: a remote OPML may only list http(s) feeds"
            )
        )
    return [s for s in listed if _is_url(s)]


_BATCH = 100


def _in_time_order(
    parsed: Sequence[tuple[_Document, ParsedFeed]], settings: Settings
) -> list[Article]:
    """Every source's articles (identities resolved, pages budgeted per source), oldest
    first; undated ones last; ties broken by link and entry, never by source order."""
    articles: list[Article] = []
    for _document, feed in parsed:
        _mode, _why, resolved, _shot = resolve_identity("guid", feed.articles, None)
        articles += budget_pages(resolved, most=settings.enrich_max_per_poll)
    far = datetime.max.replace(tzinfo=UTC)
    return sorted(articles, key=lambda a: (a.published or far, a.url, a.feed_url, a.entry_key))


def _newest(articles: Sequence[Article], now: datetime) -> datetime:
    """Just after the newest entry that is not in the future; `now` when none is dated."""
    dates = [a.published for a in articles if a.published and a.published <= now]
    return min(max(dates) + timedelta(hours=1), now) if dates else now


async def run_digest(
    settings: Settings,
    sources: Sequence[str],
    *,
    fetcher: Fetcher,
    budget: Budget = DEFAULT_BUDGET,
    progress: Progress = lambda _source: None,
    now: datetime | None = None,
    fold_threshold: float = CROSS_OUTLET_SCORE,
) -> DigestResult:
    """Fetch, parse and run every source through the pipeline; return the folded stories."""
    now = now or datetime.now(UTC)
    result = DigestResult(generated_at=now, items=[])
    documents = await _expand(sources, fetcher, result.errors, progress)
    parsed: list[tuple[_Document, ParsedFeed]] = []
    for number, document in enumerate(documents, start=1):
        ref = FeedRef(feed_id=f"d{number}", url=document.url)
        try:
            parsed.append(
                (
                    document,
                    parse_feed(document.data, ref, content_type=document.content_type, now=now),
                )
            )
        except (ParseError, FetchError) as exc:
            result.errors.append(SourceFailure(document.name, str(exc)))
    result.feeds = len(parsed)
    story_ids: list[str] = []
    everything = [a for _document, feed in parsed for a in feed.articles]
    # Folding reads the run as of its newest entry, not the wall clock, and weighs words by
    # the whole run: an archive folds as today's news does, in any order of its sources.
    as_of = _newest(everything, now)
    frequencies = FixedFrequencies(frequency_words(normalize_article(a)) for a in everything)
    async with open_redis(settings, ephemeral=True) as redis_handle:
        pipeline = build_pipeline(
            redis_handle.client,
            redis_handle.keys,
            ttl=settings.retention_seconds,
            clock=as_of.timestamp,
            pages=FetcherPages(fetcher),
            budget=budget,
            record_failures=False,
            frequencies=frequencies,
            fold_threshold=fold_threshold,
        )
        # News is folded in the order it was published, not the order sources were
        # named: the same sources in any order make the same digest.
        ordered = _in_time_order(parsed, settings)
        for start in range(0, len(ordered), _BATCH):
            outcome = await pipeline.process(ordered[start : start + _BATCH])
            stored = [a for a in outcome.articles if not a.is_copy]
            story_ids.extend(a.story_id for a in stored)
            result.unenriched += sum(1 for a in stored if is_thin(a))
        result.entries = sum(len(feed.articles) for _document, feed in parsed)
        stories = await load_stories(
            redis_handle.client, redis_handle.keys, list(dict.fromkeys(story_ids))
        )
    # The one-shot digest is the operator's own: every copy of the feeds they named.
    result.items = project_all(stories, EVERYTHING)
    result.duplicates = result.entries - len(result.items)
    return result
