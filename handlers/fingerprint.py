"""What a story's text looks like to dedup: tokens, shingles, MinHash bands, word counts
and character n-grams.

Near-duplicates (syndicated copies, light edits) share most 3-word shingles of their title
and lead; MinHash (32 permutations, 8 bands of 4 rows) turns that into index keys, so two
texts with shingle Jaccard 0.7 share a band with probability 0.89, and 0.9 with 0.9999.
The same event reported by different outlets shares telling words (weighed by TF-IDF, see
`handlers.tfidf`: the title counts twice) and, in its titles, spellings that whole words
miss ("Rahman's" and "Rahman", "U.S." and "US"): character 3- to 5-grams catch those.
Candidates are verified by `handlers.story_match` before any fold.
"""

from __future__ import annotations

import re
import unicodedata
import zlib
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from handlers.summarize import STOPWORDS

PERMUTATIONS = 32
BANDS = 8
ROWS = PERMUTATIONS // BANDS
SHINGLE = 3

_PRIME = (1 << 61) - 1
_MASK32 = (1 << 32) - 1
_generator = np.random.default_rng(20261127)  # fixed: every process must agree on the hashes
_A = _generator.integers(1, 1 << 31, size=PERMUTATIONS, dtype=np.uint64)
_B = _generator.integers(0, 1 << 31, size=PERMUTATIONS, dtype=np.uint64)

_WORD = re.compile(r"\w+", re.UNICODE)


def fold(text: str) -> str:
    """Case- and accent-insensitive form of text."""
    if text.isascii():
        return text.lower()
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def _stem(word: str) -> str:
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is")):
        return word[:-1]
    return word


def tokens(text: str) -> list[str]:
    """All word tokens, folded."""
    return _WORD.findall(fold(text))


def content_words(text: str) -> set[str]:
    """Folded, lightly stemmed words that carry meaning (no stopwords, no 1-2 letter words)."""
    return {_stem(w) for w in tokens(text) if len(w) > 2 and w not in STOPWORDS}


def shingles(text: str, size: int = SHINGLE) -> set[str]:
    """Overlapping runs of `size` words; the whole text when it is shorter."""
    words = tokens(text)
    if len(words) < size:
        return {" ".join(words)} if words else set()
    return {" ".join(words[i : i + size]) for i in range(len(words) - size + 1)}


def band_keys(shingle_set: set[str]) -> list[str]:
    """One key per LSH band of the MinHash of `shingle_set`: band number + 7 hex digits."""
    if not shingle_set:
        return []
    hashes = np.fromiter(
        (zlib.crc32(s.encode("utf-8")) for s in shingle_set),
        dtype=np.uint64,
        count=len(shingle_set),
    )
    signature = ((_A[:, None] * hashes[None, :] + _B[:, None]) % _PRIME & _MASK32).min(axis=1)
    keys = []
    for band in range(BANDS):
        rows = signature[band * ROWS : (band + 1) * ROWS].tobytes()
        keys.append(f"{band}{zlib.crc32(rows):08x}"[:8])
    return keys


_CONTEXT = re.compile(r"\s+ahead of\s+.*$", re.IGNORECASE)


def event_of(title: str) -> str:
    """The part of a title that names its event: "Iran meets U.N. watchdog ahead of
    second round of talks" is about the meeting, and the talks are only its context."""
    return _CONTEXT.sub("", title)


def title_grams(title: str) -> frozenset[str]:
    """Character 3- to 5-grams of the folded title's words."""
    text = " ".join(tokens(title))
    return frozenset(text[i : i + size] for size in (3, 4, 5) for i in range(len(text) - size + 1))


def word_counts(title: str, lead: str) -> Counter[str]:
    """Content words (no numbers) of the title, counted twice, and of the lead."""
    counts: Counter[str] = Counter()
    for text, weight in ((title, 2), (lead, 1)):
        for word in tokens(text):
            if len(word) > 2 and word not in STOPWORDS and not word.isdigit():
                counts[_stem(word)] += weight
    return counts


def _is_mark(word: str) -> bool:
    """A title token that tells otherwise-equal titles apart: "Part 2", "F#" vs "C#", "v3"."""
    return any(ch.isdigit() for ch in word) or (len(word) == 1 and word not in {"a", "i"})


@dataclass(frozen=True)
class Fingerprint:
    """Everything dedup compares about one text."""

    title_words: frozenset[str]
    title_numbers: frozenset[str]
    title_marks: frozenset[str]
    words: frozenset[str]
    shingles: frozenset[str]
    bands: tuple[str, ...]
    counts: Mapping[str, int]
    grams: frozenset[str]
    length: int

    @classmethod
    def of(cls, title: str, lead: str) -> Fingerprint:
        text = f"{title}\n{lead}".strip()
        shingle_set = shingles(text)
        return cls(
            title_words=frozenset(content_words(title)),
            title_numbers=frozenset(w for w in tokens(title) if w.isdigit()),
            title_marks=frozenset(w for w in tokens(title) if _is_mark(w)),
            words=frozenset(content_words(text)),
            shingles=frozenset(shingle_set),
            bands=tuple(band_keys(shingle_set)),
            counts=word_counts(event_of(title), lead),
            grams=title_grams(event_of(title)),
            length=len(tokens(text)),
        )


def jaccard(left: frozenset[str] | set[str], right: frozenset[str] | set[str]) -> float:
    if not left or not right:
        return 0.0
    return len(left & right) / len(left | right)
