"""What a `/news` command answers, before any platform formats it."""

from __future__ import annotations

from dataclasses import dataclass

from handlers.story import DigestItem
from handlers.styles import STANDARD, Style


@dataclass(frozen=True)
class Reply:
    """Text for the person who asked, and stories to show under it.

    `ok` is False for a refusal or an error, so adapters can mark it as one. Replies go to
    the person who asked (ephemeral where the platform allows); what a command posts to the
    channel (a digest, a story) goes through the outbox instead.
    """

    text: str
    items: tuple[DigestItem, ...] = ()
    ok: bool = True
    style: Style = STANDARD  # how `items` look (a style's preview: `/news style test`)
    suppress_previews: bool = False  # a link no preview may open (a one-time sign-in link)


def refusal(text: str) -> Reply:
    return Reply(text, ok=False)
