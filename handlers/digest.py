"""Building a channel's digest: the stories since the last one, ranked, capped, ready to render.

Ranking puts first what a reader most needs (`handlers.ranking`): by default, stories
carried by more outlets, from feeds the channel ranks higher, and newer ones. The score is
`outlets + priority + recency`, where recency falls from 1 to 0 over the digest's window,
so two extra outlets outweigh a day of age. A channel can choose time, coverage or smart
(which adds its feedback). The cap (default 10) keeps a digest readable; what is over it
shows as "and N more" and stays reachable through `/news latest` and search, without
rolling into the next digest.
Backlog stories (a new feed's history) are never delivered.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from handlers.ranking import rank_items
from handlers.story import DigestItem, Story
from handlers.styles import STANDARD, Style

DEFAULT_CAP = 10


@dataclass(frozen=True)
class Digest:
    """A heading, the stories in the order to show them, and how many more were left out."""

    heading: str
    items: tuple[DigestItem, ...]
    generated_at: datetime
    more: int = 0
    style: Style = STANDARD  # how the channel's stories look (`handlers.styles`)

    @property
    def empty(self) -> bool:
        return not self.items and not self.more


def build_digest(
    items: Sequence[DigestItem],
    *,
    heading: str,
    since: datetime,
    now: datetime,
    cap: int = DEFAULT_CAP,
    priorities: Mapping[str, int] | None = None,
    order: str = "default",
    weights: Mapping[str, float] | None = None,
) -> Digest:
    """The digest of `items`: the stories that arrived since the channel's last digest, as
    the channel may see them (`handlers.visibility.project_all`), in the channel's order
    (`handlers.ranking`)."""
    ranked = rank_items(
        items, order=order, since=since, now=now, priorities=priorities, weights=weights
    )
    return Digest(heading, tuple(ranked[:cap]), now, more=max(len(ranked) - cap, 0))


def deliverable(stories: Sequence[Story]) -> list[Story]:
    """The stories a digest may hold: not those only a new feed's backlog brought."""
    return [s for s in stories if not all(c.backlog for c in s.copies)]
