"""Article pages for the enrich step, through the same guarded fetcher as feeds.

A page is a bonus (a thin feed's full text), never worth stalling the pipeline for: each
fetch has `PAGE_DEADLINE` seconds in all, at most `PAGES_PER_HOST` go to one host at once,
and a host that let a page run out of time is skipped for `SLOW_HOST_PAUSE` seconds, so a
hostile feed whose links never answer costs one deadline, not one per item.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from urllib.parse import urlsplit

from bot.errors import FetchError
from bot.net.fetch import Fetcher

PAGE_ACCEPT = "text/html, application/xhtml+xml;q=0.9, text/plain;q=0.8, */*;q=0.5"
PAGE_DEADLINE = 10.0
PAGES_PER_HOST = 2
SLOW_HOST_PAUSE = 600.0


class FetcherPages:
    """`PageSource` on a `Fetcher`: the fetch guard, size cap and timeouts all apply."""

    def __init__(
        self,
        fetcher: Fetcher,
        *,
        deadline: float = PAGE_DEADLINE,
        per_host: int = PAGES_PER_HOST,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._fetcher = fetcher
        self._deadline = deadline
        self._per_host = per_host
        self._clock = clock
        self._slots: dict[str, asyncio.Semaphore] = {}
        self._slow_until: dict[str, float] = {}

    def _skip(self, host: str) -> None:
        if self._slow_until.get(host, 0.0) > self._clock():
            raise FetchError(f"skipped: {host} let a page run out of time a moment ago")

    async def page(self, url: str) -> tuple[bytes, str]:
        host = (urlsplit(url).hostname or "").lower()
        if len(self._slow_until) > 1000:  # forget hosts whose pause is over
            now = self._clock()
            self._slow_until = {h: t for h, t in self._slow_until.items() if t > now}
        self._skip(host)
        slot = self._slots.setdefault(host, asyncio.Semaphore(self._per_host))
        async with slot:
            self._skip(host)  # the page before it, on the same host, may have timed out
            try:
                async with asyncio.timeout(self._deadline):
                    result = await self._fetcher.fetch(url, accept=PAGE_ACCEPT)
            except TimeoutError as exc:
                self._slow_until[host] = self._clock() + SLOW_HOST_PAUSE
                raise FetchError(f"page took longer than {self._deadline:.0f} s") from exc
        return result.body, result.url
