"""Plain text for a terminal or a pipe: one block per story."""

from __future__ import annotations

from bot.render.text_limits import when
from handlers.story import DigestItem


def format_item(item: DigestItem) -> str:
    """Title, source and time, link, summary, then one line per other copy."""
    lines = [item.title, f"  {item.source} · {when(item.published)}"]
    if item.url:
        lines.append(f"  {item.url}")
    if item.summary:
        lines.append(f"  {item.summary}")
    lines += [f"  also: {c.source} – {c.url or c.title}" for c in item.also]
    return "\n".join(lines)
