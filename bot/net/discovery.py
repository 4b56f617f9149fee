"""Fetching a web page to find the feeds it names (see `handlers.discovery`)."""

from __future__ import annotations

from bot.errors import NewsbotError
from bot.net.fetch import Fetcher
from handlers.discovery import FeedLink, feed_links, looks_like_html


async def page_feeds(fetcher: Fetcher, url: str) -> list[FeedLink] | None:
    """The feeds the web page at `url` names, through the fetch guard; None when `url` is
    not a web page (a feed, or nothing that could be fetched)."""
    try:
        result = await fetcher.fetch(url)
    except NewsbotError:
        return None
    if not looks_like_html(result.body, result.content_type):
        return None
    return feed_links(result.body, result.url)
