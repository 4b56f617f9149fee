"""Extractive summaries: offline, deterministic, and within a budget of sentences and chars.

Each sentence is scored by how central its words are to the whole text (term frequency),
with a prior for early position, as news puts the point first, and a bonus for sharing
words with the title. The best sentences are taken greedily, skipping any that repeat one
already taken, and shown in their original order.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass

from handlers.article import Article
from handlers.text import split_sentences

DEFAULT_SENTENCES = 3
DEFAULT_MAX_CHARS = 600
_WORD = re.compile(r"\w+", re.UNICODE)
_STOPWORDS = frozenset(
    [
        "the",
        "and",
        "for",
        "that",
        "with",
        "this",
        "from",
        "was",
        "were",
        "are",
        "has",
        "have",
        "had",
        "but",
        "not",
        "you",
        "they",
        "his",
        "her",
        "its",
        "our",
        "their",
        "will",
        "would",
        "can",
        "could",
        "been",
        "being",
        "which",
        "who",
        "whom",
        "what",
        "when",
        "where",
        "why",
        "how",
        "all",
        "any",
        "some",
        "more",
        "most",
        "other",
        "into",
        "over",
        "than",
        "then",
        "there",
        "these",
        "those",
        "also",
        "just",
        "only",
        "said",
        "says",
        "about",
        "after",
        "before",
        "while",
        "such",
        "very",
        "may",
        "might",
        "must",
        "shall",
        "should",
        "did",
        "does",
        "doing",
        "der",
        "die",
        "das",
        "und",
        "les",
        "des",
        "une",
        "est",
        "pour",
        "que",
        "qui",
        "los",
        "las",
        "del",
        "por",
        "con",
    ]
)


@dataclass(frozen=True)
class Budget:
    """How long a summary may be."""

    sentences: int = DEFAULT_SENTENCES
    chars: int = DEFAULT_MAX_CHARS


DEFAULT_BUDGET = Budget()


def _words(sentence: str) -> list[str]:
    return [w for w in _WORD.findall(sentence.casefold()) if len(w) > 2 and w not in _STOPWORDS]


def _clip(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    cut = text[: limit - 1].rsplit(" ", 1)[0].rstrip(" ,;:-")
    return cut + "…"


def summarize_text(text: str, *, title: str = "", budget: Budget = DEFAULT_BUDGET) -> str:
    """Return up to `budget.sentences` sentences of `text`, at most `budget.chars` long."""
    sentences = split_sentences(text)
    if not sentences or budget.sentences <= 0:
        return ""
    if len(sentences) <= budget.sentences:
        chosen = list(range(len(sentences)))
    else:
        chosen = _select(sentences, title, budget.sentences)
    parts: list[str] = []
    used = 0
    for index in chosen:
        sentence = sentences[index]
        extra = len(sentence) + (1 if parts else 0)
        if used + extra > budget.chars:
            if not parts:
                parts.append(_clip(sentence, budget.chars))
            break
        parts.append(sentence)
        used += extra
    return " ".join(parts)


def _select(sentences: list[str], title: str, count: int) -> list[int]:
    bags = [_words(s) for s in sentences]
    frequency = Counter(word for bag in bags for word in bag)
    peak = max(frequency.values(), default=1)
    title_words = set(_words(title))
    scores: list[float] = []
    for position, bag in enumerate(bags):
        if len(bag) < 3:
            scores.append(-1.0)
            continue
        centrality = sum(frequency[w] for w in set(bag)) / (peak * math.sqrt(len(set(bag))))
        prior = 1.0 / math.sqrt(1 + position)
        overlap = len(title_words & set(bag)) / (len(title_words) or 1)
        scores.append(centrality + 1.5 * prior + 0.5 * overlap)
    ranked = sorted(range(len(sentences)), key=lambda i: (-scores[i], i))
    chosen: list[int] = []
    for index in ranked:
        words = set(bags[index])
        if any(_jaccard(words, set(bags[j])) > 0.6 for j in chosen):
            continue
        chosen.append(index)
        if len(chosen) == count:
            break
    return sorted(chosen)


def _jaccard(left: set[str], right: set[str]) -> float:
    if not left or not right:
        return 0.0
    return len(left & right) / len(left | right)


def summarize_article(article: Article, budget: Budget = DEFAULT_BUDGET) -> Article:
    """Summarise the article's fullest text; an article with no text keeps an empty summary."""
    text = (
        article.content
        if len(article.content) > len(article.description)
        else (article.description)
    )
    summary = summarize_text(text, title=article.title, budget=budget)
    return article.evolve(summary=summary, summary_method="extractive" if summary else "")
