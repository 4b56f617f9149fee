"""`newsbot digest` folds reports of one event across outlets whatever the date of its
feeds and whatever the order of its sources (issue #14)."""

from __future__ import annotations

from datetime import UTC, datetime

from bot.cli.digest_build import run_digest
from bot.net.fetch import Fetcher
from bot.net.guard import allow_any
from bot.settings import load_settings
from handlers.story import DigestItem
from tests.conftest import SHARED

EVENTS = SHARED / "data" / "story-events"


def world_news() -> list[str]:
    feeds = (EVENTS / "feeds.txt").read_text().split()
    return [str(SHARED / "data" / "feeds-real" / feed) for feed in feeds]


def cross_outlet(items: list[DigestItem]) -> set[frozenset[str]]:
    """Each story carried by more than one outlet, as the set of its copies' links."""
    return {
        frozenset({item.url, *(c.url for c in item.also)})
        for item in items
        if len({item.source, *(c.source for c in item.also)}) > 1
    }


async def digest(sources: list[str], now: datetime) -> list[DigestItem]:
    async with Fetcher(policy=allow_any) as fetcher:
        # No article pages: this machine reaches no news site, and the feeds are the test.
        settings = load_settings({"NEWSBOT_ENRICH_MAX_PER_POLL": "0"})
        result = await run_digest(settings, sources, fetcher=fetcher, now=now)
    return result.items


async def test_an_archive_folds_as_todays_news_does_in_any_order() -> None:
    """The feeds were fetched in February 2026; read today, they are an archive. Folding
    reads the run as of its newest entry and weighs words by the whole run."""
    sources = world_news()
    today = await digest(sources, datetime.now(UTC))
    assert len(cross_outlet(today)) >= 10
    as_fetched = await digest(sources[::-1], datetime(2026, 2, 19, tzinfo=UTC))
    assert cross_outlet(as_fetched) == cross_outlet(today)
