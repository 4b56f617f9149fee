"""A watched feed's health in words, the same in `newsbot feeds list` and `/news feeds`."""

from __future__ import annotations

from bot.store.watchlist import FeedRecord
from handlers.safe_text import one_line


def ago(when: float, now: float) -> str:
    if not when:
        return "never"
    seconds = max(0, int(now - when))
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit} ago"
    return f"{seconds}s ago" if seconds >= 5 else "just now"


def health(feed: FeedRecord, now: float) -> str:
    if feed.failures:
        since = f" since {ago(feed.failing_since, now)}" if feed.failing_since else ""
        return f"failing{since} (×{feed.failures}): {one_line(feed.last_error)}"
    if not feed.last_fetch:
        return "not fetched yet"
    return f"ok (warning: {one_line(feed.warning)})" if feed.warning else "ok"


def status_line(feed: FeedRecord, now: float) -> str:
    """Last fetch, entries and health on one line."""
    return f"last fetch {ago(feed.last_fetch, now)}, {feed.entries} entries, {health(feed, now)}"
