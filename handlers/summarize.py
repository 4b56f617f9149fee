"""Extractive summaries: offline, deterministic, multilingual, within a budget.

Sentences come from sentencex, whose rules for ~300 languages ship in its wheel. Each is
scored by a position prior (news puts the point first: 1 / (1 + position)) plus how central
its words are to the whole text; sentences too short to carry a fact (captions, bylines,
"Watch:") are passed over. The best are taken greedily, skipping any that repeat one
already taken, and shown in their original order, cut to the budget of sentences and
characters without ever cutting a sentence, unless a single one is over the whole budget.

On the CNN/DM dev set this beats Lead-3 on ROUGE-1, -2 and -Lsum (``bench/summaries.py``).
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from handlers.article import Article
from handlers.offload import off_loop
from handlers.text import split_sentences

log = logging.getLogger(__name__)

DEFAULT_SENTENCES = 3
DEFAULT_MAX_CHARS = 600
_WORD = re.compile(r"\w+", re.UNICODE)
STOPWORDS = frozenset(
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
    return [w for w in _WORD.findall(sentence.casefold()) if len(w) > 2 and w not in STOPWORDS]


# A dateline or agency tag before the first sentence: "(CNN)", "LONDON (Reuters) -".
_DATELINE = re.compile(
    r"^(?:[A-Z][\w.,' -]{0,60})?\((?:CNN|AP|AFP|Reuters|UPI|dpa|[A-Z]{2,10})\)\s*(?:--|—|–|-)?\s*"
)
_MIN_CONTENT_WORDS = 4
_CENTRALITY_WEIGHT = 0.3
_REDUNDANT = 0.6


def _clip(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    cut = text[: limit - 1].rsplit(" ", 1)[0].rstrip(" ,;:-")
    return cut + "…"


def fit_budget(text: str, budget: Budget, language: str = "en") -> str:
    """Whole sentences of `text` up to the budget; one sentence over it is clipped."""
    return _join_within(split_sentences(text, language)[: budget.sentences], budget.chars)


def _join_within(sentences: list[str], chars: int) -> str:
    parts: list[str] = []
    used = 0
    for sentence in sentences:
        extra = len(sentence) + (1 if parts else 0)
        if used + extra > chars:
            if not parts:
                parts.append(_clip(sentence, chars))
            break
        parts.append(sentence)
        used += extra
    return " ".join(parts)


def summarize_text(
    text: str, *, title: str = "", budget: Budget = DEFAULT_BUDGET, language: str = "en"
) -> str:
    """Return up to `budget.sentences` sentences of `text`, at most `budget.chars` long."""
    sentences = split_sentences(_DATELINE.sub("", text.strip(), count=1), language)
    if not sentences or budget.sentences <= 0:
        return ""
    chosen = _select(sentences, title, budget.sentences)
    return _join_within([sentences[i] for i in chosen], budget.chars)


def _select(sentences: list[str], title: str, count: int) -> list[int]:
    """Indexes of the sentences to keep, in text order."""
    bags = [set(_words(s)) for s in sentences]
    frequency = Counter(word for bag in bags for word in bag)
    peak = max(frequency.values(), default=1)
    title_words = set(_words(title))
    # The title is shown above the summary: a sentence that restates it tells nothing new.
    fresh = [i for i, bag in enumerate(bags) if _jaccard(bag, title_words) <= _REDUNDANT]
    substantial = [i for i in fresh if len(bags[i]) >= _MIN_CONTENT_WORDS]
    candidates = substantial if len(substantial) >= min(count, len(fresh)) else fresh

    def score(position: int) -> float:
        bag = bags[position]
        centrality = sum(frequency[w] for w in bag) / (peak * len(bag)) if bag else 0.0
        prior = 1.0 / (1 + position)
        return prior + _CENTRALITY_WEIGHT * centrality

    chosen: list[int] = []
    for index in sorted(candidates, key=lambda i: (-score(i), i)):
        if any(_jaccard(bags[index], bags[j]) > _REDUNDANT for j in chosen):
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
    summary = summarize_text(text, title=article.title, budget=budget, language=article.language)
    return article.evolve(summary=summary, summary_method="extractive" if summary else "")


class Abstractive(Protocol):
    """A summariser that writes its own sentences (an LLM); `method` names it."""

    method: str

    async def summarize(self, article: Article, budget: Budget) -> str:
        """The summary, within `budget`; raises on any failure."""
        ...


@dataclass
class SummarizeStep:
    """Pipeline step: the extractive summary always, an abstractive one where configured.

    The abstractive summariser is asked only for new stories (not copies, edits or
    backlog), a few at a time; when it fails, the extractive summary stands and the failure
    is logged.
    """

    budget: Budget = DEFAULT_BUDGET
    abstractive: Abstractive | None = None
    name: str = "summarize"
    required: bool = False
    concurrency: int = 4

    async def run(self, articles: Sequence[Article]) -> list[Article]:
        summarized = await off_loop(lambda: [summarize_article(a, self.budget) for a in articles])
        writer = self.abstractive
        if writer is None:
            return summarized
        limit = asyncio.Semaphore(self.concurrency)

        async def rewrite(article: Article) -> Article:
            if article.is_copy or article.backlog or not article.summary:
                return article
            async with limit:
                try:
                    summary = await writer.summarize(article, self.budget)
                except Exception as exc:  # noqa: BLE001 - any failure falls back to extractive
                    log.warning(
                        "LLM summary failed; using the extractive one",
                        extra={
                            "feed_url": article.feed_url,
                            "entry": article.entry_key,
                            "step": self.name,
                            "error": str(exc),
                        },
                    )
                    return article
            return article.evolve(summary=summary, summary_method=writer.method)

        return list(await asyncio.gather(*(rewrite(a) for a in summarized)))
