"""The terminal renderer (rich): digests and replies in colour, with clickable links.

Feed text goes in as `rich.text.Text`, never as markup, so a title like ``[bold]`` shows
literally; control characters are dropped so a feed cannot move the cursor or recolour
the terminal.
"""

from __future__ import annotations

import io

from rich.console import Console
from rich.style import Style
from rich.text import Text

from bot.render.text_limits import safe_url, when
from handlers.digest import Digest
from handlers.reply import Reply
from handlers.safe_text import one_line, printable
from handlers.story import DigestItem

WIDTH = 100


def item_text(item: DigestItem) -> Text:
    """Title (a link), source, time and outlet count, summary, then the other outlets."""
    url = safe_url(item.url)
    text = Text()
    text.append(one_line(item.title) or "(untitled)", Style(bold=True, link=url or None))
    text.append(f"\n  {one_line(item.byline(when(item.published)))}", "dim")
    if url:
        text.append(f"\n  {url}", "blue")
    if item.summary:
        text.append(f"\n  {one_line(item.summary)}")
    named, more = item.other_outlets()
    if named:
        text.append("\n  also: ", "dim")
        for number, copy in enumerate(named):
            text.append(", " if number else "", "dim")
            text.append(one_line(copy.source), Style(link=safe_url(copy.url) or None))
        if more:
            text.append(f" +{more}", "dim")
    return text


def _render(lead: Text, items: tuple[DigestItem, ...], *, color: bool, tail: str = "") -> str:
    """`lead`, then each story after a blank line, then an italic `tail` if any."""
    console = Console(
        file=io.StringIO(),
        force_terminal=color,
        no_color=not color,
        width=WIDTH,
        highlight=False,
        emoji=False,
    )
    console.print(lead)
    for item in items:
        console.print()
        console.print(item_text(item))
    if tail:
        console.print()
        console.print(Text(tail, "italic"))
    file = console.file
    assert isinstance(file, io.StringIO)
    return file.getvalue().rstrip("\n")


def render_digest_terminal(digest: Digest, *, color: bool = True) -> str:
    tail = f"…and {digest.more} more" if digest.more else ""
    lead = Text(one_line(digest.heading), "bold underline")
    return _render(lead, digest.items, color=color, tail=tail)


def render_reply_terminal(reply: Reply, *, color: bool = True) -> str:
    lead = Text(printable(reply.text), "" if reply.ok else "bold red")
    return _render(lead, reply.items, color=color)
