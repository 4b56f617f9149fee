"""Stories made from feeds-real's entries, each under links of its own, for benchmarks
that need many of them (search, the managers' page)."""

from __future__ import annotations

import warnings
from datetime import UTC, datetime, timedelta
from pathlib import Path

from _corpus import load_feeds

from bot.errors import ParseError
from bot.net.parse import FeedRef, parse_feed
from handlers.article import Article


def templates(folder: Path) -> list[Article]:
    out = []
    now = datetime.now(UTC)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for name, data in load_feeds(folder):
            try:
                out += parse_feed(data, FeedRef("t", name), now=now).articles
            except ParseError:
                continue
    return out


def story(template: Article, number: int, feeds: int, stories: int, now: datetime) -> Article:
    feed = number % feeds
    return template.evolve(
        feed_id=f"f{feed + 1}",
        feed_url=f"https://s{feed}.example/feed",
        entry_key=f"e{number}",
        guid="",
        url=f"https://s{feed}.example/story/{number}",
        published=now - timedelta(days=29 * number / stories),
        seen_at=now,
        backlog=True,
        first_fetch=True,
    )
