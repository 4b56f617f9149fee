"""Trending: a channel's stories ranked by the outlets they gained in a window of hours.

An outlet counts as gained when the first copy from it that the channel may see arrived
(when newsbot saw it) within the window. Ties go to the story with more outlets in all,
then the newer. Each line names the count and the outlet that carried the story first.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from handlers.story import DigestItem, StoryCopy

TRENDING_MAX = 10


@dataclass(frozen=True)
class Trend:
    item: DigestItem
    gained: int  # outlets whose first visible copy arrived in the window
    outlets: int  # visible outlets in all
    first: str  # the outlet that carried it first


def trend_of(item: DigestItem, copies: Sequence[StoryCopy], since: datetime) -> Trend:
    """`item`'s trend from its visible `copies` since `since`."""
    firsts: dict[str, datetime] = {}
    for copy in sorted(copies, key=lambda c: c.seen):
        firsts.setdefault(copy.source, copy.seen)
    gained = sum(1 for seen in firsts.values() if seen >= since)
    first = min(firsts, key=lambda source: firsts[source]) if firsts else item.source
    return Trend(item, gained, len(firsts), first)


def trending(trends: Sequence[Trend], limit: int = TRENDING_MAX) -> list[Trend]:
    """The stories that gained outlets, most first; ties by outlets in all, then newest."""
    rising = [t for t in trends if t.gained > 0]

    def newest(trend: Trend) -> float:
        return trend.item.published.timestamp() if trend.item.published else 0.0

    rising.sort(key=lambda t: (-t.gained, -t.outlets, -newest(t)))
    return rising[:limit]
