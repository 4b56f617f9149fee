"""Folding on real Redis: the scraped page's copies, other outlets, and what stays apart."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.roles.pipeline import build_pipeline
from bot.store.connection import RedisHandle
from bot.store.frequencies import RedisFrequencies
from bot.store.stories import load_stories
from handlers.article import Article
from tests.articles import article
from tests.scraped_page import related_stories
from tests.world_news import world_news_words

NOW = datetime(2026, 11, 27, 12, tzinfo=UTC)

AUSTRALIA = (
    "Australia won't repatriate 34 women and children from Syria",
    "Australia will not bring home 34 women and children held in a camp in northeast Syria, "
    "Prime Minister Anthony Albanese said on Tuesday, citing security advice about the "
    "families of Islamic State fighters.",
)
AUSTRALIA_ABC = (
    "Australia won't repatriate 34 women and children linked to IS from Syrian camp",
    "The Australian government has ruled out repatriating 34 Australian women and children "
    "linked to Islamic State group fighters from a detention camp in Syria, Prime Minister "
    "Anthony Albanese said.",
)
JACKSON_DIES = (
    "Civil rights leader Jesse Jackson dies, aged 84",
    "The Rev. Jesse Jackson, the civil rights leader who twice ran for president, has died "
    "at the age of 84, his family said on Tuesday.",
)
JACKSON_PICTURES = (
    "Jesse Jackson: A life in pictures",
    "From marching with Martin Luther King Jr to running for the White House, Jesse Jackson "
    "spent six decades in public life. Here is his life in photographs.",
)


def entry(feed: str, number: int, title: str, lead: str, *, hours_ago: float = 1) -> Article:
    return article(
        feed_id=feed,
        source=f"Outlet {feed}",
        entry_key=f"{feed}-{number}",
        url=f"https://{feed}.example.com/news/{number}",
        title=title,
        description=lead,
        published=NOW - timedelta(hours=hours_ago),
        seen_at=NOW,
    )


async def run(handle: RedisHandle, *batches: list[Article], learnt: bool = True) -> list[Article]:
    """The pipeline on these batches, after a week of world news was counted (`learnt`)."""
    if learnt:
        await RedisFrequencies(handle.client, handle.keys, clock=NOW.timestamp).learn(
            world_news_words()
        )
    pipeline = build_pipeline(handle.client, handle.keys, ttl=30 * 86400, clock=NOW.timestamp)
    out: list[Article] = []
    for batch in batches:
        out += (await pipeline.process(batch)).articles
    return out


def scraped_related() -> list[Article]:
    return [
        entry("aggregator", n, title, lead, hours_ago=minutes / 60)
        for n, (_outlet, title, lead, minutes) in enumerate(related_stories())
    ]


@pytest.mark.parametrize("split", [False, True], ids=["one batch", "two batches"])
async def test_scraped_page_copies_fold_and_news24_stays_apart(
    handle: RedisHandle, split: bool
) -> None:
    cnn_recent, cnn_older, news24 = scraped_related()
    batches = [[cnn_older], [cnn_recent, news24]] if split else [[cnn_older, cnn_recent, news24]]
    stored = await run(handle, *batches)
    by_title = {a.entry_key: a for a in stored}
    assert by_title[cnn_recent.entry_key].story_id == by_title[cnn_older.entry_key].story_id
    assert by_title[cnn_recent.entry_key].fold_reason == "near-duplicate"
    assert by_title[news24.entry_key].story_id != by_title[cnn_older.entry_key].story_id
    assert await handle.client.zcard(handle.keys.stories) == 2
    [story] = await load_stories(
        handle.client, handle.keys, [by_title[cnn_older.entry_key].story_id]
    )
    assert len(story.copies) == 2


async def test_the_same_story_from_another_outlet_folds(handle: RedisHandle) -> None:
    first, second = entry("npr", 1, *AUSTRALIA), entry("abc", 7, *AUSTRALIA_ABC, hours_ago=3)
    stored = await run(handle, [second], [first])
    assert stored[1].fold_reason == "cross-outlet"
    assert stored[1].story_id == stored[0].story_id


async def test_a_new_install_does_not_fold_other_outlets_on_a_hunch(handle: RedisHandle) -> None:
    """With fewer stories counted than `MIN_DOCUMENTS`, no word's weight can be trusted:
    only copies (near-duplicates) fold."""
    first, second = entry("npr", 1, *AUSTRALIA), entry("abc", 7, *AUSTRALIA_ABC, hours_ago=3)
    stored = await run(handle, [second], [first], learnt=False)
    assert stored[1].fold_reason == "" and stored[1].story_id != stored[0].story_id


@pytest.mark.parametrize("newer_first", [False, True], ids=["older first", "newer first"])
async def test_the_fold_window_looks_both_ways_across_days(
    handle: RedisHandle, newer_first: bool
) -> None:
    """Feeds are polled at different times: a report processed after a later-dated one of
    the same event (here on the next UTC day) still finds it."""
    late_evening = NOW.replace(hour=23) - timedelta(days=1)
    older = entry("abc", 7, *AUSTRALIA_ABC, hours_ago=(NOW - late_evening).total_seconds() / 3600)
    newer = entry("npr", 1, *AUSTRALIA, hours_ago=1)
    batches = [[newer], [older]] if newer_first else [[older], [newer]]
    stored = await run(handle, *batches)
    assert stored[0].published.date() != stored[1].published.date()
    assert stored[1].fold_reason == "cross-outlet"
    assert stored[1].story_id == stored[0].story_id


async def test_related_but_different_stories_stay_apart(handle: RedisHandle) -> None:
    stored = await run(
        handle, [entry("bbc", 1, *JACKSON_DIES)], [entry("aj", 2, *JACKSON_PICTURES)]
    )
    assert stored[1].fold_reason == "" and stored[1].story_id != stored[0].story_id


async def test_reports_days_apart_stay_apart(handle: RedisHandle) -> None:
    stored = await run(
        handle, [entry("npr", 1, *AUSTRALIA, hours_ago=80)], [entry("abc", 7, *AUSTRALIA_ABC)]
    )
    assert stored[1].story_id != stored[0].story_id


async def test_a_folded_copy_points_later_copies_at_its_story(handle: RedisHandle) -> None:
    original = entry("wire", 1, *AUSTRALIA)
    syndicated = entry("paper", 2, *AUSTRALIA)
    stored = await run(handle, [original], [syndicated])
    again = entry("reader", 3, *AUSTRALIA)
    again.url = syndicated.url  # another feed links the syndicated page: folds by its URL
    [third] = await run(handle, [again])
    assert stored[1].story_id == stored[0].story_id == third.story_id
