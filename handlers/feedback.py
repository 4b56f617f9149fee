"""A channel's feedback on stories: what a 👍 or 👎 says about the story's source and terms.

A mark counts for the story's feed (``s:<feed id>``) and for its key terms (``t:<word>``,
the title's longest uncommon words). Each weight decays with a half-life of 30 days, so
what a channel liked last quarter fades; the store keeps at most `WEIGHTS_MAX` of them per
channel, dropping the weakest.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from handlers.alerts import COMMON
from handlers.query import words_of
from handlers.story import DigestItem

HALF_LIFE = 30 * 86400.0
WEIGHTS_MAX = 500
TERMS = 4  # key terms a mark counts for
MARKS = "#marks"  # the field counting a channel's marks (never decays)
SCALE = 3.0


def decayed(value: float, since: float, now: float) -> float:
    """A weight `value` set at `since`, as it stands at `now`."""
    return float(value * 0.5 ** (max(now - since, 0.0) / HALF_LIFE))


def source_key(feed_id: str) -> str:
    return f"s:{feed_id}"


def key_terms(title: str) -> list[str]:
    """The title's key terms: its longest words that are not common, at most `TERMS`."""
    words = dict.fromkeys(w for w in words_of(title) if len(w) > 3 and w not in COMMON)
    return sorted(words, key=lambda w: (-len(w), w))[:TERMS]


def feedback_keys(item: DigestItem) -> list[str]:
    """What a mark on `item` counts for: its feed, then its key terms."""
    return [source_key(item.feed_id), *(f"t:{term}" for term in key_terms(item.title))]


def taste_of(item: DigestItem, weights: Mapping[str, float]) -> float:
    """How much the channel's feedback favours `item`, from -1 to 1: half its source's
    weight, half the mean weight of its key terms (so a long title counts no more), each
    squashed (`SCALE` marks make about three quarters of its half), so a well-liked source
    does not drown out what the channel said about the subject."""
    terms = [weights.get(f"t:{term}", 0.0) for term in key_terms(item.title)]
    subject = sum(terms) / len(terms) if terms else 0.0
    source = weights.get(source_key(item.feed_id), 0.0)
    return (math.tanh(source / SCALE) + math.tanh(subject / SCALE)) / 2
