"""Article pages for the enrich step, through the same guarded fetcher as feeds."""

from __future__ import annotations

from bot.net.fetch import Fetcher

PAGE_ACCEPT = "text/html, application/xhtml+xml;q=0.9, text/plain;q=0.8, */*;q=0.5"


class FetcherPages:
    """`PageSource` on a `Fetcher`: the fetch guard, size cap and timeouts all apply."""

    def __init__(self, fetcher: Fetcher) -> None:
        self._fetcher = fetcher

    async def page(self, url: str) -> tuple[bytes, str]:
        result = await self._fetcher.fetch(url, accept=PAGE_ACCEPT)
        return result.body, result.url
