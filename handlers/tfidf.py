"""Word weights for telling one news event from another: TF-IDF over the stories seen.

A word many stories carry ("says", "government") says little about which event a report
is about; a word few carry ("Deranque", "shotgun") says a lot. Document frequencies come
from the stories newsbot has stored (`bot.store.frequencies`, per day in Redis) or, for a
one-shot digest, from every entry of the run (`FixedFrequencies`), so that the result does
not depend on the order of its sources. Until enough stories are counted
(`MIN_DOCUMENTS`), the weights are a guess and nothing folds on them.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

MIN_DOCUMENTS = 100
TOP_TERMS = 8


@dataclass(frozen=True)
class Frequencies:
    """How many stories were counted, and how many of them had each word."""

    documents: int = 0
    counts: Mapping[str, int] = field(default_factory=dict)

    @property
    def trusted(self) -> bool:
        return self.documents >= MIN_DOCUMENTS

    def idf(self, word: str) -> float:
        return math.log((self.documents + 1) / (self.counts.get(word, 0) + 1))

    def merged(self, other: Frequencies) -> Frequencies:
        return Frequencies(max(self.documents, other.documents), {**self.counts, **other.counts})


Vector = Mapping[str, float]


def vector(counts: Mapping[str, int], frequencies: Frequencies) -> Vector:
    """Unit-length TF-IDF weights (log-scaled term counts)."""
    weights = {
        word: (1 + math.log(count)) * frequencies.idf(word)
        for word, count in counts.items()
        if count > 0
    }
    norm = math.sqrt(sum(w * w for w in weights.values()))
    return {word: w / norm for word, w in weights.items() if w > 0} if norm else {}


def top_terms(weights: Vector, count: int = TOP_TERMS) -> list[str]:
    """The most telling words, heaviest first (ties by the word, so every process agrees)."""
    return [w for w, _ in sorted(weights.items(), key=lambda kv: (-kv[1], kv[0]))[:count]]


def cosine(left: Vector, right: Vector) -> float:
    if len(left) > len(right):
        left, right = right, left
    return sum(weight * right.get(word, 0.0) for word, weight in left.items())


class DocumentFrequencies(Protocol):
    """Where the fold step reads and adds document frequencies."""

    async def get(self, words: Collection[str]) -> Frequencies:
        """The counts of these words, and how many stories were counted."""
        ...

    async def learn(self, documents: Sequence[Collection[str]]) -> None:
        """Count new stories, each given as its set of words."""
        ...


class FixedFrequencies:
    """Frequencies counted once over a known set of documents (a digest's whole run);
    `learn` changes nothing, so the order documents are folded in does not matter."""

    def __init__(self, documents: Iterable[Collection[str]]) -> None:
        counts: Counter[str] = Counter()
        total = 0
        for words in documents:
            counts.update(set(words))
            total += 1
        self.frequencies = Frequencies(total, counts)

    async def get(self, words: Collection[str]) -> Frequencies:
        counts = self.frequencies.counts
        return Frequencies(self.frequencies.documents, {w: counts.get(w, 0) for w in words})

    async def learn(self, documents: Sequence[Collection[str]]) -> None:
        return None
