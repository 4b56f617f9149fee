"""Stories as read back from the store, and the items an audience is shown of them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


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
    summary: str = ""  # an extractive summary of this copy's own feed text
    author: str = ""


@dataclass(frozen=True)
class Story:
    """A story with every copy folded into it; `id` is the id of the copy that created it
    (the one marked `first`)."""

    id: str
    summary: str
    method: str
    copies: tuple[StoryCopy, ...]

    def summary_of(self, copy: StoryCopy) -> str:
        """A copy's own summary: the story's for the copy that created it (an LLM's, when
        one is set up), the copy's extractive one for any other."""
        return self.summary if copy.first else copy.summary

    def primary(self) -> StoryCopy:
        """The earliest published copy, then the first seen (the one that created the story).
        For folding and ordering only: what an audience is shown comes from
        `handlers.visibility.project`."""
        return min(self.copies, key=copy_order)


def copy_order(copy: StoryCopy) -> tuple[bool, datetime, bool, datetime]:
    """Earliest published first (undated last), then the copy that created the story."""
    return (copy.published is None, copy.published or copy.seen, not copy.first, copy.seen)


@dataclass(frozen=True)
class DigestItem:
    """One story as one audience may see it: its primary copy plus the other visible copies
    as `also`. Every renderer takes these, and only `handlers.visibility.project` makes
    them from stored stories, so nothing reaches an output without passing the rule."""

    id: str
    title: str
    url: str
    source: str
    published: datetime | None
    summary: str
    also: tuple[StoryCopy, ...]
    story_id: str = ""
    feed_id: str = ""  # the primary copy's feed

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
