"""What a channel's template can show of a story, before a platform encodes it."""

from __future__ import annotations

from bot.render.text_limits import when
from handlers.story import DigestItem


def template_values(item: DigestItem) -> dict[str, str]:
    """The raw value of every placeholder (`handlers.styles.PLACEHOLDERS`) for `item`."""
    named, more = item.other_outlets()
    also = ", ".join(copy.source for copy in named) + (f" +{more}" if more else "")
    return {
        "title": item.title or "(untitled)",
        "link": item.url,
        "source": item.source,
        "summary": item.summary,
        "outlets": str(item.outlets),
        "also": also,
        "time": when(item.published),
    }
