"""Alert matching: stories matched per second against 100 and 10,000 alerts through the
alert index (what the pipeline's alert step runs), against the naive loop that evaluates
every alert on every story, on the same stories and queries (issue #13).

Stories are the entries of the 200 real feeds (title, source, author, summary and text);
queries are drawn from the words of their titles (`bench/_alert_queries.py`): topical
words, and then, as a stress case, broad ones that match far more stories. The naive
loop reads each story's words once, as the index does, so the difference is the index
alone. Target: 10,000 alerts cost less than 3x what 100 cost. The ingest ratio with
10,000 alerts loaded is `python bench/ingest.py --alerts 10000`.

    python bench/alerts.py            # the 200 real feeds
    python bench/alerts.py --smoke    # five feeds, 100 and 1,000 alerts (CI)
"""

from __future__ import annotations

import argparse
import time
import warnings
from collections.abc import Callable

from _alert_queries import alert_queries
from _corpus import FEEDS, load_feeds

from bot.errors import ParseError
from bot.net.parse import FeedRef, parse_feed
from handlers.alerts import AlertIndex, StoryText, _StoryWords
from handlers.normalize import normalize_article
from handlers.query import Node, matches_words, parse_query


def corpus_stories(limit: int | None) -> list[StoryText]:
    stories = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for name, data in load_feeds(FEEDS, limit):
            try:
                parsed = parse_feed(data, FeedRef("f", name))
            except ParseError:
                continue
            for entry in parsed.articles:
                article = normalize_article(entry)
                stories.append(
                    StoryText(
                        title=article.title,
                        source=article.source,
                        author=article.author,
                        text=article.content or article.description,
                    )
                )
    return stories


def rate(stories: list[StoryText], match: Callable[[StoryText], int]) -> tuple[float, int]:
    """Stories per second, and the matches found."""
    started = time.perf_counter()
    found = sum(match(story) for story in stories)
    return len(stories) / (time.perf_counter() - started), found


def naive(alerts: list[tuple[str, Node]]) -> Callable[[StoryText], int]:
    def match(story: StoryText) -> int:
        words = _StoryWords(story)
        return sum(1 for _, node in alerts if matches_words(node, words))

    return match


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--smoke", action="store_true", help="five feeds, fewer alerts (CI)")
    args = parser.parse_args()
    stories = corpus_stories(5 if args.smoke else None)
    sizes = (100, 1000) if args.smoke else (100, 10_000)
    naive_sample = stories[: 50 if args.smoke else 400]
    print(f"{len(stories)} stories from {5 if args.smoke else 200} feeds")
    pairs = [(s.title, s.text) for s in stories]
    for label, broad in (("topical queries", False), ("broad queries (stress)", True)):
        queries = alert_queries(pairs, max(sizes), broad=broad)
        print(f"{label}, like: " + ", ".join(queries[:6]))
        measure(stories, naive_sample, queries, sizes)


def measure(
    stories: list[StoryText], sample: list[StoryText], queries: list[str], sizes: tuple[int, int]
) -> None:
    costs = {}
    for size in sizes:
        alerts = [(f"a{n}", parse_query(q)) for n, q in enumerate(queries[:size])]
        built = time.perf_counter()
        index = AlertIndex(alerts)
        built = time.perf_counter() - built
        per_second, hits = rate(stories, lambda s, index=index: len(index.match(s)))
        naive_rate, naive_hits = rate(sample, naive(alerts))
        index_hits = sum(len(index.match(s)) for s in sample)
        assert index_hits == naive_hits, "the index finds exactly what the naive loop finds"
        costs[size] = 1 / per_second
        print(
            f"  {size:>6} alerts: index {per_second:7.0f} stories/s "
            f"({hits / len(stories):.1f} matches a story; built in {built * 1000:.0f} ms)   "
            f"naive loop (baseline) {naive_rate:7.0f} stories/s (same matches on "
            f"{len(sample)} stories)"
        )
    small, large = sizes
    ratio = costs[large] / costs[small]
    print(f"  cost of {large:,} alerts / cost of {small:,}: {ratio:.2f}x (target < 3x)")


if __name__ == "__main__":
    main()
