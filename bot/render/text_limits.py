"""Small helpers the renderers share: clipping text and making URLs safe to embed."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from urllib.parse import quote, urlsplit

from handlers.alerts import highlight


def clip(text: str, limit: int) -> str:
    """`text` cut to `limit` characters at a word boundary, with an ellipsis when cut.

    Runs of spaces fold to one; line breaks are kept.
    """
    text = "\n".join(" ".join(line.split()) for line in text.strip().splitlines())
    if len(text) <= limit:
        return text
    cut = text[: max(limit - 1, 0)]
    if " " in cut[limit // 2 :]:
        cut = cut.rsplit(" ", 1)[0]
    return cut.rstrip() + "…"


def safe_url(url: str) -> str:
    """An http(s) URL with the characters that break chat markup percent-encoded; else ""."""
    try:
        scheme = urlsplit(url).scheme.lower()
    except ValueError:
        return ""
    if scheme not in {"http", "https"} or len(url) > 2000:
        return ""
    return quote(url, safe="/:?#[]@!$&'*+,;=%-._~")


def when(moment: datetime | None) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC") if moment else "undated"


def fit(text: str, limit: int, encode: Callable[[str], str]) -> str:
    """`encode(clip(text, n))` for the largest n that keeps the result within `limit`."""
    size = limit
    while size > 0:
        encoded = encode(clip(text, size))
        if len(encoded) <= limit:
            return encoded
        size -= max(len(encoded) - limit, 1)
    return ""


def marked(
    text: str,
    words: frozenset[str],
    limit: int,
    encode: Callable[[str], str],
    bold: Callable[[str], str],
) -> str:
    """`text` clipped and encoded with each matched word in bold, within `limit`; without
    the bold when it would not fit."""
    runs = highlight(clip(text, limit), words)
    shown = "".join(bold(encode(run)) if hit else encode(run) for run, hit in runs)
    return shown if len(shown) <= limit else fit(text, limit, encode)
