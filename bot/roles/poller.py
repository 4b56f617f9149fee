"""The poller: claims due feeds, fetches them, and queues their entries for the pipeline.

Each feed is polled every `NEWSBOT_POLL_INTERVAL` seconds (or its own interval). The next
poll is never earlier than the server's Cache-Control max-age or Retry-After allow (both
capped), and a failing feed backs off exponentially. A 304 does no parsing. Entries go to
the ``entries`` stream, where any pipeline worker picks them up.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from redis.asyncio import Redis
from redis.exceptions import RedisError
from redis.typing import EncodableT

from bot.errors import FetchError, NewsbotError
from bot.metrics import Metrics
from bot.net.discovery import page_feeds
from bot.net.fetch import Fetcher, FetchResult, HTTPStatusError
from bot.net.parse import FeedRef, ParsedFeed, parse_feed
from bot.roles.feed_health import FeedHealthNotices
from bot.settings import Settings
from bot.store.keys import Keys
from bot.store.seen_entries import SeenEntries
from bot.store.watchlist import FeedRecord, Watchlist
from handlers.dedup import fetched_version
from handlers.discovery import FeedLink
from handlers.enrich import DEFAULT_PAGES_PER_POLL, budget_pages
from handlers.first_fetch import mark_backlog
from handlers.identity import FetchSnapshot, resolve_identity
from handlers.offload import off_loop
from handlers.redact import redact_text

log = logging.getLogger(__name__)

MAX_BACKOFF = 24 * 3600.0
MAX_CACHE_WAIT = 6 * 3600.0
# Back-pressure: while the pipeline has more entries than this waiting (the entries
# stream), pollers claim no feeds; the stream is never trimmed of unprocessed work.
BACKLOG_MAX = 20_000
# Longer than a fetch may take (30 s total timeout) plus parsing: a claimed feed is not
# claimed again before its poll ends, unless the process polling it died.
POLL_LEASE = 120.0
Clock = Callable[[], float]


def next_poll_delay(
    interval: float,
    *,
    failures: int = 0,
    retry_after: float | None = None,
    max_age: float | None = None,
) -> float:
    """Seconds until the next poll of a feed.

    Healthy: the interval, or longer if the server's max-age asks (at most 6 h). Failing:
    the interval doubled per consecutive failure, capped at 24 h, and never sooner than a
    Retry-After (also capped at 24 h).
    """
    if failures <= 0:
        return max(interval, min(max_age or 0.0, MAX_CACHE_WAIT))
    backoff = min(interval * 2.0 ** min(failures - 1, 30), max(MAX_BACKOFF, interval))
    return max(backoff, min(retry_after or 0.0, MAX_BACKOFF))


@dataclass(frozen=True)
class PollReport:
    """What one poll of one feed did."""

    feed_id: str
    status: str  # "ok", "not_modified" or "failed"
    entries: int = 0  # parsed from the document
    error: str = ""
    queued: int = 0  # of those, new or changed: queued for the pipeline


@dataclass(frozen=True)
class _Prepared:
    """A fetched feed made ready to queue: parsed, identified, serialised."""

    parsed: ParsedFeed
    mode: str
    identity_change: str
    snapshot: FetchSnapshot
    entries: list[str]  # the new and changed ones, to queue
    gone: list[str]  # hashes of entries the pipeline has that the document no longer has


class Poller:
    """Polls the watch list; share one Redis between any number of pollers."""

    def __init__(
        self,
        *,
        client: Redis,
        keys: Keys,
        fetcher: Fetcher,
        interval: float,
        metrics: Metrics,
        clock: Clock = time.time,
        batch: int = 16,
        concurrency: int = 64,
        first_fetch_max: int = 5,
        failing_notice: float = 86400.0,
        pages_per_poll: int = DEFAULT_PAGES_PER_POLL,
        lease: float = POLL_LEASE,
        backlog_max: int = BACKLOG_MAX,
    ) -> None:
        self._pages_per_poll = pages_per_poll
        self.backlog_max = backlog_max
        self.held_back = False  # polling paused by the pipeline's backlog
        self._client = client
        self._keys = keys
        self._watchlist = Watchlist(client, keys)
        self._seen = SeenEntries(client, keys)
        self._fetcher = fetcher
        self._interval = interval
        self._metrics = metrics
        self._clock = clock
        self._batch = batch
        self._concurrency = concurrency
        self._first_fetch_max = first_fetch_max
        self.lease = lease
        self._notices = FeedHealthNotices(client, keys, after=failing_notice)

    async def backlog(self) -> int:
        """Entries waiting for the pipeline (queued, or being processed)."""
        return int(await self._client.xlen(self._keys.entries))

    async def poll_due(self) -> list[PollReport]:
        """Claim the feeds due now and poll them concurrently; none while the pipeline's
        backlog is over `backlog_max` (their polls wait, due, until it drains)."""
        feeds = await self.claim(self._batch)
        return list(await asyncio.gather(*(self.poll(feed) for feed in feeds)))

    async def claim(self, limit: int) -> list[FeedRecord]:
        """Up to `limit` feeds due now, leased to this poller; none while the pipeline is
        behind."""
        waiting = await self.backlog()
        if waiting > self.backlog_max:
            if not self.held_back:
                log.warning(
                    "the pipeline is behind; polling waits until it catches up",
                    extra={"entries": waiting, "limit": self.backlog_max},
                )
            self.held_back = True
            return []
        if self.held_back:
            log.info("the pipeline caught up; polling again", extra={"entries": waiting})
        self.held_back = False
        return await self._watchlist.claim_due(now=self._clock(), limit=limit, lease=self.lease)

    async def discover(self, url: str) -> list[FeedLink] | None:
        """The feeds a web page at `url` names; None when it is not a page (or is gone)."""
        return await page_feeds(self._fetcher, url)

    async def poll(self, feed: FeedRecord, *, trying: bool = False) -> PollReport:
        """Fetch the feed and queue its entries. `trying`: a feed a subscribe is trying
        out, which its reply reports on; its failure is not logged as a warning."""
        interval = feed.interval or self._interval
        started = self._clock()
        try:
            result = await self._fetcher.fetch(
                feed.url, etag=feed.etag or None, last_modified=feed.last_modified or None
            )
            if result.not_modified:
                return await self._not_modified(feed, result, interval, started)
            return await self._queue_entries(feed, result, interval, started)
        except NewsbotError as exc:
            return await self._failed(feed, exc, interval, started, trying=trying)
        except RedisError:
            raise
        except Exception as exc:  # the per-feed boundary: one feed, one error
            log.exception("unexpected error polling a feed", extra={"feed_url": feed.url})
            return await self._failed(
                feed, NewsbotError(f"internal error: {exc!r}"), interval, started
            )

    async def _not_modified(
        self, feed: FeedRecord, result: FetchResult, interval: float, now: float
    ) -> PollReport:
        self._metrics.feeds_not_modified.inc()
        due = now + next_poll_delay(interval, max_age=result.max_age)
        await self._record_ok(feed, due, now)
        return PollReport(feed.id, "not_modified")

    async def _record_ok(
        self, feed: FeedRecord, due: float, now: float, **state: EncodableT
    ) -> None:
        """Record a good fetch; channels told the feed was failing hear that it works again."""
        if feed.down_notice:
            await self._notices.recovered(feed, now=now)
        await self._watchlist.record(
            feed.id,
            due,
            last_fetch=now,
            last_ok=now,
            failures=0,
            failing_since=0,
            last_error="",
            down_notice=0,
            **state,
        )

    def _prepare(self, feed: FeedRecord, result: FetchResult, seen: dict[str, str]) -> _Prepared:
        ref = FeedRef(feed_id=feed.id, url=feed.url, title=feed.title)
        parsed = parse_feed(result.body, ref, content_type=result.content_type)
        previous = FetchSnapshot.loads(feed.id_snapshot) if feed.id_snapshot else None
        mode, reason, articles, shot = resolve_identity(feed.id_mode, parsed.articles, previous)
        if not feed.last_ok:
            articles = mark_backlog(articles, deliver=self._first_fetch_max)
        articles = [a.evolve(fetched_version=fetched_version(a)) for a in articles]
        present = {a.entry_hash for a in articles}
        # Entries the pipeline already has, as fetched: no per-entry work, never queued.
        articles = [a for a in articles if seen.get(a.entry_hash) != a.fetched_version]
        articles = budget_pages(articles, most=self._pages_per_poll)
        entries = [json.dumps(a.to_dict(), ensure_ascii=False) for a in articles]
        return _Prepared(parsed, mode, reason, shot, entries, sorted(set(seen) - present))

    async def _queue_entries(
        self, feed: FeedRecord, result: FetchResult, interval: float, now: float
    ) -> PollReport:
        seen = await self._seen.of_feed(feed.id)
        # Parsing, entry identity and serialising take a second or more on a large feed:
        # all of it in a worker thread, never on the event loop.
        prepared = await off_loop(self._prepare, feed, result, seen)
        parsed, mode, shot = prepared.parsed, prepared.mode, prepared.snapshot
        if prepared.identity_change:
            log.warning(
                "feed entry identity changed",
                extra={"feed_url": feed.url, "mode": mode, "reason": prepared.identity_change},
            )
        async with self._client.pipeline(transaction=True) as pipe:
            for entry in prepared.entries:
                pipe.xadd(self._keys.entries, {"a": entry})
            await pipe.execute()
        await self._seen.forget(feed.id, prepared.gone)
        self._metrics.feeds_polled.inc()
        self._metrics.entries_queued.inc(len(prepared.entries))
        self._metrics.entries_unchanged.inc(len(parsed.articles) - len(prepared.entries))
        if parsed.warning:
            log.info(
                "feed parsed with a warning",
                extra={"feed_url": feed.url, "warning": parsed.warning},
            )
        due = now + next_poll_delay(interval, max_age=result.max_age)
        await self._record_ok(
            feed,
            due,
            now,
            title=parsed.title,
            etag=result.etag or "",
            last_modified=result.last_modified or "",
            id_mode=mode,
            id_snapshot=shot.dumps(),
            warning=parsed.warning or "",
            entries=len(parsed.articles),
        )
        return PollReport(feed.id, "ok", entries=len(parsed.articles), queued=len(prepared.entries))

    async def _failed(
        self,
        feed: FeedRecord,
        exc: NewsbotError,
        interval: float,
        now: float,
        *,
        trying: bool = False,
    ) -> PollReport:
        self._metrics.feeds_failed.inc()
        error = redact_text(str(exc))  # a fetch error may quote the URL, credentials too
        failures = feed.failures + 1
        retry_after = exc.retry_after if isinstance(exc, HTTPStatusError) else None
        due = now + next_poll_delay(interval, failures=failures, retry_after=retry_after)
        level = logging.WARNING if isinstance(exc, FetchError) and not trying else logging.INFO
        log.log(
            level,
            "feed poll failed",
            extra={
                "feed_url": feed.url,
                "error": error,
                "failures": failures,
                "next_poll_in": round(due - now),
            },
        )
        failing_since = feed.failing_since or now
        down_notice = feed.down_notice
        if self._notices.due(feed, failing_since=failing_since, now=now):
            await self._notices.failing(feed, failing_since=failing_since, now=now, error=error)
            down_notice = failing_since
        await self._watchlist.record(
            feed.id,
            due,
            last_fetch=now,
            last_error=error[:500],
            failures=failures,
            failing_since=failing_since,
            down_notice=down_notice,
        )
        return PollReport(feed.id, "failed", error=error)

    async def run(self, stop: asyncio.Event, *, idle: float = 1.0) -> None:
        """Poll until `stop` is set, up to `concurrency` feeds at a time: a feed is claimed
        as soon as a place is free and it is due, so one slow feed never holds up the
        others. Redis outages are logged and retried, never fatal. On stop, the polls in
        flight finish."""
        polls: set[asyncio.Task[PollReport]] = set()
        stopping = asyncio.ensure_future(stop.wait())
        pause = idle
        try:
            while not stop.is_set():
                try:
                    free = self._concurrency - len(polls)
                    feeds = await self.claim(min(free, self._batch)) if free > 0 else []
                    for feed in feeds:
                        task = asyncio.create_task(self.poll(feed))
                        polls.add(task)
                        task.add_done_callback(polls.discard)
                        task.add_done_callback(_log_failed_poll)
                    pause = idle
                    if feeds and len(feeds) == min(free, self._batch):
                        await asyncio.sleep(0)  # more may be due: claim again at once
                        continue
                    due = await self._watchlist.next_due()
                    wait = idle if due is None else min(max(due - self._clock(), 0.01), idle)
                except RedisError as exc:
                    log.warning("poller cannot reach Redis; retrying", extra={"error": str(exc)})
                    pause = min(pause * 2, 30.0)
                    wait = pause
                # Until a feed is due, a place frees up, or stop.
                await asyncio.wait(
                    [stopping, *polls], timeout=wait, return_when=asyncio.FIRST_COMPLETED
                )
        finally:
            stopping.cancel()
            if polls:
                await asyncio.wait(polls)


def _log_failed_poll(task: asyncio.Task[PollReport]) -> None:
    """A poll that could not even record its outcome (Redis went away): its lease runs out
    and any poller takes the feed again."""
    if not task.cancelled() and (exc := task.exception()) is not None:
        log.warning("a poll could not finish; the feed is polled again", extra={"error": repr(exc)})


def poller_for(
    settings: Settings,
    *,
    client: Redis,
    keys: Keys,
    fetcher: Fetcher,
    metrics: Metrics,
    clock: Clock = time.time,
    lease: float = POLL_LEASE,
) -> Poller:
    """The poller `newsbot run` runs, and the one `/news subscribe` polls a new feed with:
    one configuration, one set of metrics."""
    return Poller(
        client=client,
        keys=keys,
        fetcher=fetcher,
        interval=settings.poll_interval,
        metrics=metrics,
        clock=clock,
        first_fetch_max=settings.first_fetch_max,
        failing_notice=settings.feed_failing_notice,
        pages_per_poll=settings.enrich_max_per_poll,
        lease=lease,
    )
