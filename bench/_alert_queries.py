"""Realistic alert queries for the benchmarks, drawn from the words of the real feeds.

People alert on topics: names, places, subjects. The words are taken from the corpus's
titles, ranked by how many titles use them, skipping the very commonest (words every
story has) and the ones seen once; queries mix one word, two words, a phrase from a real
title, an OR, and a NOT, as the query language allows.
"""

from __future__ import annotations

import itertools
import random
from collections import Counter

from handlers.alerts import COMMON
from handlers.query import words_of


def alert_queries(titles: list[str], count: int, *, seed: int = 12) -> list[str]:
    rng = random.Random(seed)
    counts: Counter[str] = Counter()
    bigrams: list[str] = []
    for title in titles:
        words = [w for w in words_of(title) if len(w) > 2 and w not in COMMON and w.isalpha()]
        counts.update(list(dict.fromkeys(words)))  # in order: the same draw every run
        bigrams += [f'"{a} {b}"' for a, b in itertools.pairwise(words)]
    ranked = [w for w, n in counts.most_common() if n > 1][30:]  # not the commonest
    pool = ranked or list(counts) or ["news"]
    queries = []
    for _ in range(count):
        a, b = rng.choice(pool), rng.choice(pool)
        shape = rng.random()
        if shape < 0.5:
            queries.append(a)
        elif shape < 0.7:
            queries.append(f"{a} {b}")
        elif shape < 0.8 and bigrams:
            queries.append(rng.choice(bigrams))
        elif shape < 0.9:
            queries.append(f"{a} OR {b}")
        else:
            queries.append(f"{a} -{b}")
    return queries
