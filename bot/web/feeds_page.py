"""What the Feeds page shows of each watched feed: its state, fetches and stories a day."""

from __future__ import annotations

from dataclasses import dataclass

from redis.asyncio import Redis

from bot.render.feed_status import ago
from bot.render.sparkline import sparkline_points
from bot.store.batch import run_batch
from bot.store.keys import Keys
from bot.store.watchlist import Watchlist
from handlers.safe_text import one_line

DAYS = 14
DAY = 86400
KEEP_PAST = 3600.0  # seconds a past day's count is kept before it is read again


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


# A feed's stories in each of `ARGV[2]` days of `ARGV[3]` seconds from `ARGV[1]`, the
# last day open-ended (today): one call per feed instead of one per day.
_COUNT_DAYS = """
local first, days, length = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local counts = {}
for n = 0, days - 1 do
  local from = first + n * length
  local to = '(' .. (from + length)
  if n == days - 1 then to = '+inf' end
  counts[n + 1] = redis.call('ZCOUNT', KEYS[1], from, to)
end
return counts
"""


class DayCounts:
    """Stories a day of each feed, by UTC day. A day that is over does not change (a
    story is stored by its publication time), so its count is read once and kept for an
    hour; only today's is read on every page."""

    def __init__(self, client: Redis, keys: Keys) -> None:
        self._client = client
        self._keys = keys
        self._count_days = client.register_script(_COUNT_DAYS)
        self._past: dict[str, tuple[tuple[int, ...], float, float]] = {}  # first day, when

    async def counts(self, feed_ids: list[str], now: float) -> dict[str, tuple[int, ...]]:
        """Each feed's stories a day over the last `DAYS` UTC days, oldest first."""
        today = int(now // DAY) * DAY
        first = today - (DAYS - 1) * DAY

        def known(feed: str) -> bool:
            hit = self._past.get(feed)
            return hit is not None and hit[1] == first and now - hit[2] <= KEEP_PAST

        whole = [feed for feed in feed_ids if not known(feed)]
        today_only = [feed for feed in feed_ids if known(feed)]
        calls = [
            (self._count_days, [self._keys.feed_stories(f)], [first, DAYS, DAY]) for f in whole
        ]
        calls += [
            (self._count_days, [self._keys.feed_stories(f)], [today, 1, DAY]) for f in today_only
        ]
        replies = await run_batch(self._client, calls)
        counts: dict[str, tuple[int, ...]] = {}
        for feed, reply in zip(whole + today_only, replies, strict=True):
            numbers = tuple(int(n) for n in reply)
            if len(numbers) == DAYS:
                self._past[feed] = (numbers[:-1], first, now)
                counts[feed] = numbers
            else:
                counts[feed] = (*self._past[feed][0], *numbers)
        if len(self._past) > 4 * len(feed_ids):  # feeds gone by
            self._past = {f: v for f, v in self._past.items() if v[1] == first}
        return counts


async def feed_rows(
    client: Redis,
    keys: Keys,
    now: float,
    *,
    only: set[str] | None = None,
    day_counts: DayCounts | None = None,
) -> list[FeedRow]:
    """Every watched feed (or those of `only`, by id), failing ones first (the longest
    failing first), then by id."""
    feeds = [f for f in await Watchlist(client, keys).all() if only is None or f.id in only]
    counts = await (day_counts or DayCounts(client, keys)).counts([f.id for f in feeds], now)
    due = await client.zmscore(keys.feeds_due, [f.id for f in feeds]) if feeds else []
    rows = []
    for feed, when in zip(feeds, due, strict=True):
        per_day = counts[feed.id]
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
                next_poll=_next(when, now),
                error=one_line(feed.last_error) if failing else "",
                per_day=per_day,
                points=sparkline_points(per_day),
            )
        )
    order = {f.id: (not f.failures, f.failing_since or now, feed_number(f.id)) for f in feeds}
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


def feed_number(feed_id: str) -> int:
    """A feed id's number (f12 -> 12), to list feeds in the order they were added."""
    digits = feed_id.lstrip("f")
    return int(digits) if digits.isdigit() else 0
