"""What the Feeds page shows of each watched feed: its state, fetches and stories a day."""

from __future__ import annotations

import itertools
from dataclasses import dataclass

from redis.asyncio import Redis

from bot.render.feed_status import ago
from bot.render.sparkline import sparkline_points
from bot.store.keys import Keys
from bot.store.watchlist import Watchlist
from handlers.safe_text import one_line

DAYS = 14


@dataclass(frozen=True)
class FeedRow:
    id: str
    title: str
    url: str
    state: str  # ok, failing, not fetched yet
    since: str  # "failing since 3h ago", or ""
    last_fetch: str
    next_poll: str
    error: str
    per_day: tuple[int, ...]  # stories a day, oldest first
    points: str  # the sparkline's

    @property
    def failing(self) -> bool:
        return self.state == "failing"


async def feed_rows(
    client: Redis, keys: Keys, now: float, *, only: set[str] | None = None
) -> list[FeedRow]:
    """Every watched feed (or those of `only`, by id), failing ones first (the longest
    failing first), then by id."""
    feeds = [f for f in await Watchlist(client, keys).all() if only is None or f.id in only]
    starts = [now - (DAYS - day) * 86400 for day in range(DAYS + 1)]
    async with client.pipeline(transaction=False) as pipe:
        for feed in feeds:
            pipe.zscore(keys.feeds_due, feed.id)
            for start, end in itertools.pairwise(starts):
                pipe.zcount(keys.feed_stories(feed.id), start, f"({end}")
        replies = await pipe.execute()
    rows = []
    for n, feed in enumerate(feeds):
        due, *counts = replies[n * (DAYS + 1) : (n + 1) * (DAYS + 1)]
        per_day = tuple(int(c) for c in counts)
        failing = bool(feed.failures)
        state = "failing" if failing else ("ok" if feed.last_fetch else "not fetched yet")
        since = f"since {ago(feed.failing_since, now)}" if failing and feed.failing_since else ""
        rows.append(
            FeedRow(
                id=feed.id,
                title=feed.shown_title,
                url=feed.shown_url,
                state=state,
                since=since,
                last_fetch=ago(feed.last_fetch, now),
                next_poll=_next(due, now),
                error=one_line(feed.last_error) if failing else "",
                per_day=per_day,
                points=sparkline_points(per_day),
            )
        )
    order = {f.id: (not f.failures, f.failing_since or now, _number(f.id)) for f in feeds}
    return sorted(rows, key=lambda row: order[row.id])


def _next(due: float | None, now: float) -> str:
    if due is None:
        return "not scheduled"
    seconds = int(float(due) - now)
    if seconds <= 0:
        return "due now"
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"in {seconds // size}{unit}"
    return f"in {seconds}s"


def _number(feed_id: str) -> int:
    digits = feed_id.lstrip("f")
    return int(digits) if digits.isdigit() else 0
