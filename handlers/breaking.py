"""Breaking news: a digest story that many outlets carry soon after its first copy.

A channel with breaking on (N outlets within M minutes) gets a story of its digest
subscriptions at once, as "Breaking · N outlets", when the copies it may see come from N
outlets within M minutes of the first of them. Time is when newsbot saw each copy: a
feed's own date can be wrong or missing, and what matters is how fast the story spread
through the feeds this channel can see. Only visible copies count, so no private
channel's feed can make a story break elsewhere.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from handlers.story import StoryCopy

SETTING = "breaking"  # the channel setting: "<outlets> <minutes>"


@dataclass(frozen=True)
class BreakingRule:
    outlets: int
    minutes: int

    def text(self) -> str:
        return f"{self.outlets} {self.minutes}"

    def describe(self) -> str:
        return f"{self.outlets} outlets within {self.minutes} minutes of a story's first copy"

    @classmethod
    def parse(cls, text: str | None) -> BreakingRule | None:
        """The rule a channel setting holds; None when breaking is off (or unreadable)."""
        parts = (text or "").split()
        if len(parts) != 2 or not all(p.isascii() and p.isdigit() for p in parts):
            return None
        return cls(int(parts[0]), int(parts[1]))


def outlets_in_window(copies: Sequence[StoryCopy], minutes: int) -> int:
    """How many outlets carried the story within `minutes` of its first copy (by when
    newsbot saw each)."""
    if not copies:
        return 0
    first = min(c.seen for c in copies).timestamp()
    limit = first + minutes * 60
    return len({c.source for c in copies if c.seen.timestamp() <= limit})


def breaks(copies: Sequence[StoryCopy], rule: BreakingRule) -> int:
    """The outlet count when the story breaks under `rule`; 0 when it does not."""
    count = outlets_in_window(copies, rule.minutes)
    return count if count >= rule.outlets else 0
