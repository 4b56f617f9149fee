"""Main-text extraction from an article page (trafilatura), dropping the page's chrome."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass

import trafilatura

from handlers.text import html_to_text

log = logging.getLogger(__name__)

_HTML_HINT = re.compile(rb"<\s*(html|body|article|div|p|head)[\s>]", re.IGNORECASE)


@dataclass(frozen=True)
class ExtractedPage:
    """The article text of a page, and its title when the page names one."""

    title: str
    text: str


def looks_like_html(data: bytes) -> bool:
    return bool(_HTML_HINT.search(data[:4096]))


def extract_article(markup: str, *, url: str | None = None) -> ExtractedPage:
    """The main text of an HTML page; falls back to all visible text when nothing is found."""
    text = ""
    title = ""
    try:
        text = (
            trafilatura.extract(
                markup,
                url=url,
                include_comments=False,
                include_tables=False,
                include_links=False,
                favor_precision=True,
                deduplicate=True,
            )
            or ""
        )
        metadata = trafilatura.extract_metadata(markup, default_url=url)
        title = (metadata.title if metadata is not None else None) or ""
    except Exception as exc:  # noqa: BLE001 - a library boundary on hostile pages
        log.warning(
            "extraction failed; using the page's visible text",
            extra={"url": url, "step": "extract", "error": repr(exc)},
        )
    if not text.strip():
        text = html_to_text(markup)
    return ExtractedPage(title=" ".join(title.split()), text=text.strip())
