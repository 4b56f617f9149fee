"""Realistic alert queries for the benchmarks, drawn from the words of the real feeds.

People alert on topics: names, places, subjects ("ukraine", "bitcoin", "nvidia"), words
that a small share of stories carry. So the default draw takes words from the stories'
titles that appear in at least two stories and in at most 1% of them, counting each
story's full text. `broad=True` draws from every title word past the 30 commonest
instead ("south", "need", "remember"): a stress case where each story matches about one
alert in sixty. Queries mix one word, two words, a phrase from a real title, an OR and a
NOT, as the query language allows. The draw is the same on every run.
"""

from __future__ import annotations

import itertools
import random
from collections import Counter

from handlers.alerts import COMMON
from handlers.query import words_of


def _topic_words(title: str) -> list[str]:
    return [w for w in words_of(title) if len(w) > 2 and w not in COMMON and w.isalpha()]


def alert_queries(
    stories: list[tuple[str, str]], count: int, *, seed: int = 12, broad: bool = False
) -> list[str]:
    """`count` queries drawn from (title, full text) pairs."""
    rng = random.Random(seed)
    in_titles: Counter[str] = Counter()
    in_stories: Counter[str] = Counter()
    bigrams: list[str] = []
    for title, text in stories:
        words = _topic_words(title)
        in_titles.update(list(dict.fromkeys(words)))  # in order: the same draw every run
        in_stories.update(set(words_of(f"{title} {text}")))
        bigrams += [f'"{a} {b}"' for a, b in itertools.pairwise(words)]
    if broad:
        pool = [w for w, n in in_titles.most_common() if n > 1][30:]
    else:
        most = max(2, len(stories) // 100)
        pool = [w for w in in_titles if 2 <= in_stories[w] <= most]
    pool = pool or list(in_titles) or ["news"]
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
