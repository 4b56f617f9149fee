"""Stories made from feeds-real's entries, each under links of its own, and a private
Redis to store them in, for benchmarks that need many (search, the managers' page)."""

from __future__ import annotations

import contextlib
import sys
import tempfile
import warnings
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

from _corpus import ROOT, load_feeds

sys.path.insert(0, str(ROOT))  # the private Redis lives with the tests

from bot.errors import ParseError
from bot.net.parse import FeedRef, parse_feed
from bot.settings import Settings, load_settings
from bot.store.connection import RedisHandle, open_redis
from handlers.article import Article
from tests.fakes.redis_server import PrivateRedis


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


@contextlib.asynccontextmanager
async def private_store(name: str) -> AsyncIterator[tuple[Settings, RedisHandle]]:
    """Settings and a handle on a private Redis in a temporary folder, gone on exit."""
    with tempfile.TemporaryDirectory(prefix=f"newsbot-{name}-") as tmp:
        server = PrivateRedis(Path(tmp) / "redis")
        server.directory.mkdir()
        server.start()
        try:
            settings = load_settings(
                {"NEWSBOT_REDIS_URL": server.url, "NEWSBOT_DATA_DIR": str(Path(tmp) / "d")}
            )
            async with open_redis(settings) as handle:
                yield settings, handle
        finally:
            server.stop()
