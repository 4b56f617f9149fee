"""The enrich step: when a feed gives too little text, read the article page itself.

A feed entry with fewer than `THIN_WORDS` words of text gets its page fetched (through the
bot's fetch guard and limits) and its main text extracted, so navigation, comments and
"related articles" lists never reach the summary. When the page declares a canonical URL on
the same site, that URL becomes the article's, and the article is checked against dedup's
URL claims once more: an aggregator's copy of a page another feed brought folds into it.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from handlers.article import Article, short_hash
from handlers.dedup import DedupIndex, url_claim
from handlers.extract import extract_article
from handlers.offload import off_loop
from handlers.urls import canonical_url, same_site

log = logging.getLogger(__name__)

THIN_WORDS = 80
_TAGS = re.compile(r"<[^>]*>")
_CONCURRENT_PAGES = 8
DEFAULT_PAGES_PER_POLL = 20


class PageSource(Protocol):
    """Fetches an article page; implemented by the bot's guarded fetcher."""

    async def page(self, url: str) -> tuple[bytes, str]:
        """The page's bytes and its final URL; raises on any failure."""
        ...


def is_thin(article: Article) -> bool:
    return len((article.content or article.description).split()) < THIN_WORDS


def _looks_thin(article: Article) -> bool:
    """`is_thin` before normalize, on the feed's HTML with its tags taken out: markup must
    not make a short entry look long."""
    return len(_TAGS.sub(" ", article.content or article.description).split()) < THIN_WORDS


def budget_pages(articles: Sequence[Article], *, most: int) -> list[Article]:
    """Let only the first `most` thin entries of one fetch read their pages (the feed's
    order, newest first as feeds list them): a feed of 10,000 thin items cannot make
    newsbot fetch 10,000 pages, and with `most` 0 no page is read. Every other entry keeps
    the feed's own text, whatever normalize later finds."""
    out = []
    allowed = 0
    for article in articles:
        read = allowed < most and _looks_thin(article)
        allowed += read
        out.append(article.evolve(read_page=read))
    return out


@dataclass
class EnrichStep:
    """Pipeline step adding the article page's main text to thin entries."""

    pages: PageSource
    dedup: DedupIndex
    name: str = "enrich"
    required: bool = False

    async def run(self, articles: Sequence[Article]) -> list[Article]:
        limit = asyncio.Semaphore(_CONCURRENT_PAGES)

        async def enrich(article: Article) -> Article:
            if (
                article.is_copy
                or article.update
                or not article.read_page
                or not article.canonical_url
                or not is_thin(article)
            ):
                return article
            async with limit:
                try:
                    data, final_url = await self.pages.page(article.canonical_url)
                except Exception as exc:  # noqa: BLE001 - any failure keeps the feed's own text
                    log.info(
                        "article page not read; keeping the feed's text",
                        extra={"url": article.canonical_url, "step": self.name, "error": str(exc)},
                    )
                    return article
            page = await off_loop(extract_article, data, url=final_url)
            return self._with_page(article, page.text, page.canonical)

        enriched = list(await asyncio.gather(*(enrich(a) for a in articles)))
        return await self._refold(articles, enriched)

    @staticmethod
    def _with_page(article: Article, text: str, declared: str) -> Article:
        if len(text.split()) <= len((article.content or article.description).split()):
            return article
        changes: dict[str, str] = {"content": text}
        canonical = canonical_url(declared) if declared else ""
        if canonical and canonical != article.canonical_url and same_site(canonical, article.url):
            changes |= {"canonical_url": canonical, "id": short_hash(canonical)}
        return article.evolve(**changes)

    async def _refold(self, before: Sequence[Article], after: list[Article]) -> list[Article]:
        moved = [
            (i, a)
            for i, (b, a) in enumerate(zip(before, after, strict=True))
            if a.canonical_url != b.canonical_url
        ]
        claims = [(i, a, url_claim(a, a.id)) for i, a in moved]
        holders = await self.dedup.claim([c for _, _, c in claims if c is not None])
        for (i, article, _claim), holder in zip(
            [x for x in claims if x[2] is not None], holders, strict=True
        ):
            if holder is not None and holder.token != article.ingest_id:
                after[i] = article.evolve(copy_of=holder.story_id)
        return after
