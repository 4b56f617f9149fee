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
    """The article text of a page, its title, and the canonical URL it declares, if any."""

    title: str
    text: str
    canonical: str = ""


def looks_like_html(data: bytes) -> bool:
    return bool(_HTML_HINT.search(data[:4096]))


def _is_headline(line: str) -> bool:
    line = line.strip()
    return 0 < len(line) <= 200 and not line.endswith((".", "!", "?", ":", ";", ",", '"', "”"))


def split_headline(text: str, title: str = "", *, guess: bool = False) -> tuple[str, str]:
    """(title, body): a first line that is the title (or, with `guess`, looks like a
    headline) moves out of the body.

    A headline is not a sentence of the story; left in, it fuses with the first sentence.
    """
    first, _, rest = text.strip().partition("\n")
    if rest.strip() and (first.strip() == title or (guess and _is_headline(first))):
        return first.strip(), rest.strip()
    return title, text


def extract_article(markup: str | bytes, *, url: str | None = None) -> ExtractedPage:
    """The main text of an HTML page; falls back to all visible text when nothing is found.

    Bytes are decoded by trafilatura, from the page's declared or detected encoding.
    """
    text = ""
    title = ""
    canonical = ""
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
        canonical = (metadata.url if metadata is not None else None) or ""
    except Exception as exc:  # noqa: BLE001 - a library boundary on hostile pages
        log.warning(
            "extraction failed; using the page's visible text",
            extra={"url": url, "step": "extract", "error": repr(exc)},
        )
    if not text.strip():
        decoded = markup.decode("utf-8", "replace") if isinstance(markup, bytes) else markup
        text = html_to_text(decoded)
    title, body = split_headline(text, " ".join(title.split()))
    return ExtractedPage(title=title, text=body, canonical=canonical)
