"""Building articles and feed documents for tests."""

from __future__ import annotations

from datetime import UTC, datetime
from email.utils import format_datetime
from html import escape
from typing import Any

from handlers.article import Article


def article(**fields: Any) -> Article:
    values: dict[str, Any] = {
        "feed_id": "f1",
        "feed_url": "https://feeds.example.com/f1",
        "source": "Example",
        "entry_key": "guid-1",
        "title": "A title",
        "url": "https://example.com/story",
        "description": "<p>Lead sentence here. Second sentence follows.</p>",
        "published": datetime(2026, 11, 27, 8, 0, tzinfo=UTC),
    }
    values.update(fields)
    return Article(**values)


def rss(title: str, items: list[dict[str, Any]]) -> str:
    """An RSS 2.0 document; each item may have title, link, guid, published, description."""
    parts = [
        f'<?xml version="1.0" encoding="utf-8"?>\n<rss version="2.0"><channel>'
        f"<title>{escape(title)}</title><link>https://example.com/</link>"
    ]
    for item in items:
        parts.append("<item>")
        for tag in ("title", "link", "guid", "description"):
            if tag in item:
                parts.append(f"<{tag}>{escape(item[tag])}</{tag}>")
        if "published" in item:
            parts.append(f"<pubDate>{format_datetime(item['published'])}</pubDate>")
        parts.append("</item>")
    parts.append("</channel></rss>")
    return "".join(parts)
