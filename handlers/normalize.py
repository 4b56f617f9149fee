"""The normalize step: plain text, a canonical URL and a stable id for every article."""

from __future__ import annotations

from handlers.article import Article, short_hash
from handlers.safe_text import neutral
from handlers.text import html_to_text, one_line
from handlers.urls import canonical_url, display_url

MAX_TITLE = 500


def normalize_article(article: Article) -> Article:
    """Turn the feed's HTML into text and give the article its canonical URL and id."""
    canonical = canonical_url(article.url)
    title = neutral(one_line(html_to_text(article.title)))[:MAX_TITLE]
    description = html_to_text(article.description)
    content = html_to_text(article.content)
    if not title:
        title = one_line(description or content)[:120] or "(untitled)"
    article_id = (
        short_hash(canonical)
        if canonical
        else short_hash(f"{article.feed_id}\n{article.entry_key}")
    )
    return article.evolve(
        title=title,
        url=display_url(article.url),
        canonical_url=canonical,
        author=neutral(one_line(html_to_text(article.author))),
        source=neutral(one_line(article.source)),
        description=description,
        content=content,
        tags=tuple(dict.fromkeys(one_line(tag) for tag in article.tags if tag.strip())),
        id=article_id,
    )
