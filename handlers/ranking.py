"""How a channel's digest orders its stories: `/news rank time|coverage|smart`.

- ``time``: newest first.
- ``coverage``: most visible outlets first, then newest.
- ``smart``: a score of coverage (visible outlets), the feed's priority, recency (1 for a
  story of now, falling to 0 at the start of the digest's window), and the channel's
  feedback on the story's source and key terms (`handlers.feedback`), from -2 to 2, so
  feedback can outweigh two outlets but never bury a story the whole world carries.
- the default, before a channel chose: outlets, priority and recency, until the channel
  has given `SMART_AFTER` feedback marks; then ``smart``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime

from handlers.feedback import taste_of
from handlers.story import DigestItem

RANK = "rank"  # the channel setting
SMART_AFTER = 20  # feedback marks before the default order becomes smart
FEEDBACK_WEIGHT = 2.0
RANK_TEXT = {
    "time": "time, newest first",
    "coverage": "coverage (how many outlets carry a story), then time",
    "smart": "a score of coverage, recency and this channel's feedback (👍 / 👎)",
}


def order_of(setting: str | None, marks: int) -> str:
    """The order a channel's digest uses: its choice, else the default for its marks."""
    if setting in RANK_TEXT:
        return str(setting)
    return "smart" if marks >= SMART_AFTER else "default"


def rank_items(
    items: Sequence[DigestItem],
    *,
    order: str = "default",
    since: datetime,
    now: datetime,
    priorities: Mapping[str, int] | None = None,
    weights: Mapping[str, float] | None = None,
) -> list[DigestItem]:
    """`items` in the channel's order, best first; ties keep the newest first."""
    window = max((now - since).total_seconds(), 1.0)
    priorities = priorities or {}
    weights = weights or {}

    def moment(item: DigestItem) -> float:
        return (item.published or since).timestamp()

    def recency(item: DigestItem) -> float:
        age = (now - (item.published or since)).total_seconds()
        return min(max(1.0 - age / window, 0.0), 1.0)

    def base(item: DigestItem) -> float:
        return item.outlets + priorities.get(item.feed_id, 0) + recency(item)

    scores: dict[str, Callable[[DigestItem], float]] = {
        "time": lambda item: 0.0,
        "coverage": lambda item: float(item.outlets),
        "smart": lambda item: base(item) + FEEDBACK_WEIGHT * taste_of(item, weights),
    }
    score = scores.get(order, base)
    return sorted(items, key=lambda item: (-score(item), -moment(item)))
