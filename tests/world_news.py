"""A week of real world news (the 21 feeds of ``../shared/data/story-events``) as the words
each story counts for in document frequencies: what a running newsbot would have learnt."""

from __future__ import annotations

import functools

from bot.net.parse import FeedRef, parse_feed
from handlers.folding import frequency_words
from handlers.normalize import normalize_article
from handlers.tfidf import FixedFrequencies, Frequencies
from tests.conftest import SHARED


@functools.cache
def world_news_words() -> tuple[frozenset[str], ...]:
    folder = SHARED / "data"
    found = []
    for feed_id in (folder / "story-events" / "feeds.txt").read_text().split():
        data = (folder / "feeds-real" / feed_id).read_bytes()
        for entry in parse_feed(data, FeedRef(feed_id, feed_id)).articles:
            found.append(frozenset(frequency_words(normalize_article(entry))))
    return tuple(found)


@functools.cache
def world_news_frequencies() -> Frequencies:
    return FixedFrequencies(world_news_words()).frequencies
