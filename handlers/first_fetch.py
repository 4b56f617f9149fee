"""Seeding a new feed: its first fetch is history, apart from the newest few entries."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from handlers.article import Article
from handlers.summarize import DEFAULT_BUDGET, Budget, fit_budget

_UNDATED = datetime.min.replace(tzinfo=UTC)


def mark_backlog(articles: Sequence[Article], *, deliver: int) -> list[Article]:
    """Mark all but the `deliver` newest entries of a first fetch as backlog.

    Nothing is dropped: backlog entries are stored and searchable like any other, they are
    only never delivered. Every entry of a first fetch is marked `first_fetch`: none of
    them triggers an alert. Newest means by publication time, undated entries last; the
    feed's own order breaks ties, as feeds list their newest first.
    """
    order = sorted(
        range(len(articles)),
        key=lambda i: (articles[i].published or _UNDATED, -i),
        reverse=True,
    )
    newest = set(order[:deliver])
    return [a.evolve(backlog=i not in newest, first_fetch=True) for i, a in enumerate(articles)]


def lead_summary(article: Article, budget: Budget = DEFAULT_BUDGET) -> Article:
    """A backlog entry's summary: the opening sentences of its text, within the summary
    budget (the lead, which news writing puts first). Cheap: no scoring, and only the
    text's start is split. Its full summary is made on demand (`/news summarize <url>`)."""
    text = (
        article.content if len(article.content) > len(article.description) else article.description
    )
    summary = fit_budget(text[: budget.chars * 3], budget, article.language)
    return article.evolve(summary=summary, summary_method="lead" if summary else "")
