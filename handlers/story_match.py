"""Deciding whether two texts are the same story: near-duplicates and cross-outlet reports.

Precision comes first: folding two different stories into one is worse than missing a
fold, so every rule needs several signals to agree.

- Near-duplicate (a syndicated copy, a lightly edited re-publication): at least half of
  the 3-word shingles of title and summary are shared; so are 60 % of the title's words,
  and all of its numbers and single letters; both texts have 12 words or more, with three
  content words in the title; and they appeared within four days of each other. The title
  rules keep apart the entries of a feed whose summaries are all one boilerplate (a
  YouTube channel's description, a podcast's sign-off), "Part 1" from "Part 2", "in F#"
  from "in C#", and this week's roundup from last week's; the length rules keep "About"
  pages and untitled posts apart.
- Same story from another outlet: published within 48 hours of each other, sharing at
  least two key terms (names, places, numbers), with titles of three or more content
  words, and a combined similarity (title words + text words + 0.1 per shared term, up to
  five) of at least 0.85. Calibrated on a day of world-news feeds (``bench/dedup.py``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from handlers.fingerprint import Fingerprint, jaccard

NEAR_DUPLICATE = 0.5
NEAR_DUPLICATE_WINDOW = timedelta(days=4)  # as long as the fold index keeps a day
NEAR_DUPLICATE_TITLE = 0.6
MIN_WORDS = 12
CROSS_OUTLET_WINDOW = timedelta(hours=48)
CROSS_OUTLET_SCORE = 0.85
MIN_SHARED_TERMS = 2
MIN_TITLE_WORDS = 3


@dataclass(frozen=True)
class Text:
    """One text to compare: its fingerprint, when it was published, and which feed gave it."""

    fingerprint: Fingerprint
    when: datetime
    feed_id: str


@dataclass(frozen=True)
class Match:
    """Why two texts are one story."""

    kind: str  # "near-duplicate" or "cross-outlet"
    score: float


def near_duplicate(left: Fingerprint, right: Fingerprint) -> float | None:
    """Shingle Jaccard when both texts are long enough and it clears the bar, else None."""
    if min(left.length, right.length) < MIN_WORDS:
        return None
    if min(len(left.title_words), len(right.title_words)) < MIN_TITLE_WORDS:
        return None
    if jaccard(left.title_words, right.title_words) < NEAR_DUPLICATE_TITLE:
        return None
    if left.title_marks != right.title_marks:
        return None
    similarity = jaccard(left.shingles, right.shingles)
    return similarity if similarity >= NEAR_DUPLICATE else None


def cross_outlet_score(left: Fingerprint, right: Fingerprint) -> float | None:
    """The combined similarity of two reports, or None when a precondition fails."""
    if min(len(left.title_words), len(right.title_words)) < MIN_TITLE_WORDS:
        return None
    numbers = (left.title_numbers, right.title_numbers)
    if all(numbers) and not numbers[0] & numbers[1]:
        return None
    shared = len(left.terms & right.terms)
    if shared < MIN_SHARED_TERMS:
        return None
    return (
        jaccard(left.title_words, right.title_words)
        + jaccard(left.words, right.words)
        + 0.1 * min(shared, 5)
    )


def match(new: Text, known: Text) -> Match | None:
    """The strongest reason `new` is the same story as `known`, if there is one."""
    apart = abs(new.when - known.when)
    similarity = near_duplicate(new.fingerprint, known.fingerprint)
    if similarity is not None and apart <= NEAR_DUPLICATE_WINDOW:
        return Match("near-duplicate", similarity)
    if new.feed_id == known.feed_id or apart > CROSS_OUTLET_WINDOW:
        return None
    score = cross_outlet_score(new.fingerprint, known.fingerprint)
    if score is not None and score >= CROSS_OUTLET_SCORE:
        return Match("cross-outlet", score)
    return None
