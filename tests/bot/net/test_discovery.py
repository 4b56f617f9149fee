"""Issue #22, item 5 and 6: a web page's feeds are checked against the fetch guard before
anyone may add them, and the page is read within 2 MB."""

from __future__ import annotations

import ipaddress

from bot.net.discovery import PAGE_MAX_BYTES, page_feeds
from bot.net.fetch import Fetcher
from bot.net.guard import IPAddress, public_only
from tests.fakes.feed_server import FeedServer

LOOPBACK = ipaddress.ip_address("127.0.0.1")


def loopback_or_public(address: IPAddress) -> bool:
    """The public-only policy, but for the test servers on 127.0.0.1."""
    return address == LOOPBACK or public_only(address)


def page(*hrefs: str) -> str:
    links = "".join(
        f'<link rel="alternate" type="application/rss+xml" title="F{n}" href="{href}">'
        for n, href in enumerate(hrefs)
    )
    return f"<!DOCTYPE html><html><head>{links}</head><body>news</body></html>"


async def test_a_page_cannot_put_an_internal_address_on_the_watch_list(
    feed_server: FeedServer,
) -> None:
    good = feed_server.url("/feed.xml")
    url = feed_server.add(
        "/page",
        page(
            "http://169.254.169.254/latest/meta-data",
            "http://[::127.0.0.1]/feed",
            "http://10.0.0.1/feed",
            "file:///etc/passwd",
            good,
        ),
        content_type="text/html",
    )
    async with Fetcher(policy=loopback_or_public) as fetcher:
        links = await page_feeds(fetcher, url)
    assert links is not None and [link.url for link in links] == [good]


async def test_a_page_over_2_mb_is_not_parsed(feed_server: FeedServer) -> None:
    body = page(feed_server.url("/feed.xml")).replace("news", "x" * (PAGE_MAX_BYTES + 10))
    url = feed_server.add("/huge", body, content_type="text/html")
    async with Fetcher(policy=loopback_or_public) as fetcher:
        assert await page_feeds(fetcher, url) is None
