"""Plain text for a terminal or a pipe: one block per story."""

from __future__ import annotations

from bot.render.styled import template_values
from bot.render.text_limits import safe_url, when
from handlers.alerts import AlertMessage
from handlers.digest import Digest
from handlers.reply import Reply
from handlers.safe_text import one_line, printable
from handlers.story import DigestItem
from handlers.styles import STANDARD, Style, fill

TEMPLATE_TEXT = 3000


def format_item(item: DigestItem, style: Style = STANDARD) -> str:
    """Title, source and time, link, summary, then one line per other copy; in the compact
    style without summary and copies, in headlines the title and link, or the template."""
    url = safe_url(item.url)  # http(s) only, as in every format
    if style.name == "template":
        values = template_values(item) | {"link": url}
        return fill(
            style.template,
            values,
            value=lambda _name, raw, budget: one_line(raw)[:budget],
            literal=printable,
            limit=TEMPLATE_TEXT,
        )
    lines = [one_line(item.title)]
    if style.name != "headlines":
        lines.append(f"  {one_line(item.byline(when(item.published)))}")
    if url:
        lines.append(f"  {one_line(url)}")
    if style.name != "standard":
        return "\n".join(lines)
    if item.summary:
        lines.append(f"  {one_line(item.summary)}")
    lines += [
        f"  also: {one_line(c.source)} – {one_line(safe_url(c.url) or c.title)}" for c in item.also
    ]
    return "\n".join(lines)


def format_digest(digest: Digest) -> str:
    """The heading, one block per story, and "…and N more"."""
    more = [f"…and {digest.more} more"] if digest.more else []
    items = (format_item(item, digest.style) for item in digest.items)
    blocks = [printable(digest.heading), *items, *more]
    return "\n\n".join(blocks)


def format_reply(reply: Reply) -> str:
    """The reply's text, then its stories."""
    items = (format_item(item, reply.style) for item in reply.items)
    return "\n\n".join([printable(reply.text), *items])


def format_alert(message: AlertMessage) -> str:
    """The heading, then each story with the alert that fired and the words it found."""
    blocks = [printable(message.heading)]
    for shown in message.items:
        found = ", ".join(sorted(shown.words))
        blocks.append(f"{format_item(shown.item)}\n  alert {shown.alert_id}: {one_line(found)}")
    return "\n\n".join(blocks)


def format_contents(contents: Digest | AlertMessage | str) -> str:
    """Any outbox message's contents as plain text (a refused message's second try)."""
    if isinstance(contents, str):
        return printable(contents)
    if isinstance(contents, AlertMessage):
        return format_alert(contents)
    return format_digest(contents)
