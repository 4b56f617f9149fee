"""Fetching a web page to find the feeds it names (see `handlers.discovery`).

The page is read up to `PAGE_MAX_BYTES` (a page is not a feed: 2 MB is plenty for its
head), parsed off the event loop, and every feed it names is checked against the fetch
guard before anyone may add it: a page cannot put an internal address on the watch list.
"""

from __future__ import annotations

import logging

from bot.errors import FetchRefused, NewsbotError
from bot.net.fetch import Fetcher
from handlers.discovery import FeedLink, feed_links, looks_like_html
from handlers.offload import off_loop

log = logging.getLogger(__name__)

PAGE_MAX_BYTES = 2 * 1024 * 1024


async def page_feeds(fetcher: Fetcher, url: str) -> list[FeedLink] | None:
    """The feeds the web page at `url` names that the guard allows, through the fetch
    guard; None when `url` is not a web page (a feed, too large, or not fetched)."""
    try:
        result = await fetcher.fetch(url, max_bytes=PAGE_MAX_BYTES)
    except NewsbotError:
        return None
    if not looks_like_html(result.body, result.content_type):
        return None
    links = await off_loop(feed_links, result.body, result.url)
    allowed = []
    for link in links:
        try:
            await fetcher.check(link.url)
        except FetchRefused as exc:
            log.warning(
                "a page names a feed the fetch guard refuses; left out",
                extra={"page": url, "feed_url": link.url, "error": str(exc)},
            )
            continue
        allowed.append(link)
    return allowed
