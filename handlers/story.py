"""Stories as read back from the store, and the one-shot digest items built from them."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime

from handlers.safe_text import link_text, neutral


@dataclass(frozen=True)
class StoryCopy:
    """One copy of a story: enough to show and link it, no full text."""

    id: str
    title: str
    url: str
    source: str
    feed_id: str
    published: datetime | None
    seen: datetime
    first: bool = False
    backlog: bool = False


@dataclass(frozen=True)
class Story:
    """A story with every copy folded into it; `id` is the id of the copy that created it
    (the one marked `first`)."""

    id: str
    summary: str
    method: str
    copies: tuple[StoryCopy, ...]

    def primary(self) -> StoryCopy:
        """The earliest published copy, then the first seen (the one that created the story)."""
        return min(
            self.copies,
            key=lambda c: (c.published is None, c.published or c.seen, not c.first, c.seen),
        )


@dataclass(frozen=True)
class DigestItem:
    """One story as `newsbot digest` shows it: its primary copy plus the others as `also`."""

    id: str
    title: str
    url: str
    source: str
    published: datetime | None
    summary: str
    also: tuple[StoryCopy, ...]

    @property
    def outlets(self) -> int:
        """How many outlets (sources) carried the story, this copy's included."""
        return len({self.source, *(copy.source for copy in self.also)})

    def other_outlets(self, named: int = 2) -> tuple[list[StoryCopy], int]:
        """The first copy of up to `named` other outlets, and how many more outlets there
        are: what "also: BBC, NPR +3" shows."""
        firsts: dict[str, StoryCopy] = {}
        for copy in self.also:
            if copy.source != self.source:
                firsts.setdefault(copy.source, copy)
        others = list(firsts.values())
        return others[:named], max(len(others) - named, 0)

    def byline(self, when: str) -> str:
        """Source and time, and the outlet count when more than one carried the story."""
        count = self.outlets
        return f"{self.source} · {when}" + (f" · {count} outlets" if count > 1 else "")


def _shown(copy: StoryCopy) -> StoryCopy:
    """A copy as every renderer shows it: no control, bidi or zero-width characters in its
    title and source, and a title that looks like an address followed by the link's real
    host (see `handlers.safe_text`)."""
    return replace(
        copy, title=link_text(neutral(copy.title), copy.url), source=neutral(copy.source)
    )


def digest_items(stories: Iterable[Story]) -> list[DigestItem]:
    """Items newest first by the primary copy's publication time; undated stories last."""
    items = []
    for story in stories:
        if not story.copies:
            continue
        primary = _shown(story.primary())
        also = tuple(_shown(c) for c in story.copies if c is not story.primary())
        items.append(
            DigestItem(
                primary.id,
                primary.title,
                primary.url,
                primary.source,
                primary.published,
                neutral(story.summary),
                also,
            )
        )
    dated = sorted((i for i in items if i.published), key=lambda i: i.published or 0, reverse=True)
    return dated + [i for i in items if i.published is None]
