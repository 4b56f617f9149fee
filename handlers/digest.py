"""Building a channel's digest: the stories since the last one, ranked, capped, ready to render.

Ranking puts first what a reader most needs: stories carried by more outlets, from feeds the
channel ranks higher, and newer ones. The score is `outlets + priority + recency`, where
recency falls from 1 to 0 over the digest's window, so two extra outlets outweigh a day of
age. The cap (default 10) keeps a digest readable; what is over it shows as "and N more" and
stays reachable through `/news latest` and search, without rolling into the next digest.
Backlog stories (a new feed's history) are never delivered.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from handlers.story import DigestItem, Story

DEFAULT_CAP = 10


@dataclass(frozen=True)
class Digest:
    """A heading, the stories in the order to show them, and how many more were left out."""

    heading: str
    items: tuple[DigestItem, ...]
    generated_at: datetime
    more: int = 0

    @property
    def empty(self) -> bool:
        return not self.items and not self.more


def _outlets(item: DigestItem) -> int:
    return len({item.source, *(copy.source for copy in item.also)})


def rank(
    items: Sequence[DigestItem],
    *,
    since: datetime,
    now: datetime,
    priorities: Mapping[str, int] | None = None,
    feed_of: Mapping[str, str] | None = None,
) -> list[DigestItem]:
    """`items` best first (see the module docstring); ties keep the newest first."""
    window = max((now - since).total_seconds(), 1.0)
    priorities = priorities or {}
    feed_of = feed_of or {}

    def score(item: DigestItem) -> float:
        age = (now - (item.published or since)).total_seconds()
        recency = min(max(1.0 - age / window, 0.0), 1.0)
        return _outlets(item) + priorities.get(feed_of.get(item.id, ""), 0) + recency

    return sorted(items, key=lambda item: (-score(item), -(item.published or since).timestamp()))


def build_digest(
    items: Sequence[DigestItem],
    *,
    heading: str,
    since: datetime,
    now: datetime,
    cap: int = DEFAULT_CAP,
    priorities: Mapping[str, int] | None = None,
) -> Digest:
    """The digest of `items`: the stories that arrived since the channel's last digest, as
    the channel may see them (`handlers.visibility.project_all`)."""
    feed_of = {item.id: item.feed_id for item in items}
    ranked = rank(items, since=since, now=now, priorities=priorities, feed_of=feed_of)
    return Digest(heading, tuple(ranked[:cap]), now, more=max(len(ranked) - cap, 0))


def deliverable(stories: Sequence[Story]) -> list[Story]:
    """The stories a digest may hold: not those only a new feed's backlog brought."""
    return [s for s in stories if not all(c.backlog for c in s.copies)]
