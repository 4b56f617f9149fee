"""`newsbot summarize`: one article from a URL, a file or standard input."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from bot.errors import SourceError
from bot.fetch import Fetcher
from bot.local_files import read_local
from bot.pages import PAGE_ACCEPT
from handlers.extract import extract_article, looks_like_html, split_headline
from handlers.summarize import Budget, summarize_text

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


def summarize_document(
    data: bytes, *, source: str, url: str | None, budget: Budget
) -> ArticleSummary:
    """Extract the article when the input is HTML, then summarise it extractively."""
    text = _decode(data)
    title = ""
    if looks_like_html(data):
        page = extract_article(text, url=url)
        title, text = page.title, page.text
    else:
        title, text = split_headline(text, guess=True)
    if not text.strip():
        raise SourceError(f"{source}: no article text found")
    summary = summarize_text(text, title=title, budget=budget)
    return ArticleSummary(
        source=source, title=title, summary=summary, method="extractive", words=len(text.split())
    )
