"""`newsbot summarize`: one article from a URL, a file or standard input."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from bot.errors import SourceError
from bot.net.fetch import Fetcher
from bot.net.local_files import read_local
from bot.net.pages import PAGE_ACCEPT
from handlers.article import Article, short_hash
from handlers.extract import extract_article, looks_like_html, split_headline
from handlers.offload import off_loop
from handlers.safe_text import printable
from handlers.summarize import Abstractive, Budget, SummarizeStep
from handlers.urls import canonical_url

MAX_INPUT_BYTES = 10 * 1024 * 1024


@dataclass(frozen=True)
class ArticleSummary:
    """The summary of one article and how it was made."""

    source: str
    title: str
    summary: str
    method: str
    words: int


def _decode(data: bytes) -> str:
    for encoding in ("utf-8-sig", "cp1252"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    return data.decode("utf-8", errors="replace")


async def read_source(source: str, fetcher: Fetcher) -> tuple[bytes, str | None]:
    """The bytes of `source` (URL, file or '-') and the URL to resolve links against."""
    if urlsplit(source).scheme.lower() in {"http", "https"}:
        result = await fetcher.fetch(source, accept=PAGE_ACCEPT)
        return result.body, result.url
    try:
        return await read_local(source, limit=MAX_INPUT_BYTES), None
    except SourceError as exc:
        raise SourceError(f"{source}: {exc}") from exc


def document_article(data: bytes, *, source: str, url: str | None) -> Article:
    """The input as an article: extracted from HTML, or plain text with its headline apart."""
    text = _decode(data)
    title = ""
    if looks_like_html(data):
        page = extract_article(text, url=url)
        title, text = page.title, page.text
    else:
        title, text = split_headline(printable(text), guess=True)
    if not text.strip():
        raise SourceError(f"{source}: no article text found")
    identity = canonical_url(url or "") or f"text:{short_hash(text)}"
    return Article(
        feed_id="cli",
        feed_url=source,
        source=source,
        entry_key=identity,
        title=title,
        url=url or "",
        canonical_url=canonical_url(url or ""),
        content=text,
        id=short_hash(identity),
    )


async def summarize_document(
    data: bytes,
    *,
    source: str,
    url: str | None,
    budget: Budget,
    abstractive: Abstractive | None = None,
) -> ArticleSummary:
    """Summarise one document the way the pipeline does: the LLM if configured, else (or
    when it fails) the extractive summariser. `method` says which one it was."""
    # Extraction takes a second or two on a large page: never on the event loop.
    article = await off_loop(document_article, data, source=source, url=url)
    [done] = await SummarizeStep(budget, abstractive).run([article])
    return ArticleSummary(
        source=source,
        title=done.title,
        summary=done.summary,
        method=done.summary_method or "extractive",
        words=len(done.content.split()),
    )
