"""Parse benchmark: newsbot's parse path (the fast path, with its fallback to feedparser)
against feedparser, on the same feed bytes.

Three readings of every document of feeds-real, each `--rounds` times (best round kept):
- `parse_feed` as newsbot runs it: RSS and Atom read with lxml by feedparser's rules
  (`bot/net/fast_parse.py`), feedparser for the documents the rules hand back;
- `parse_feed(fast=False)`: feedparser alone with its sanitizer and link rewriting off, as
  newsbot ran it before (the baseline to beat);
- stock `feedparser.parse`.
It prints entries/s of each, the share of documents and entries on the fast path, and the
fallback reasons. The equality of the two readings is the differential test's job
(tests/bot/net/test_parse_differential.py).

    python bench/parse.py            # the 200 real feeds
    python bench/parse.py --smoke    # ten feeds, one round (CI)
"""

from __future__ import annotations

import argparse
import io
import time
import warnings
from collections import Counter

import feedparser
from _corpus import FEEDS, load_feeds

from bot.errors import ParseError
from bot.net.fast_parse import Fallback, read_fast
from bot.net.parse import FeedRef, parse_feed

URL = "https://feeds.example.com/feed"


def entries_per_second(documents: list[bytes], read: object, rounds: int) -> tuple[int, float]:
    best = float("inf")
    found = 0
    for _ in range(rounds):
        found = 0
        started = time.perf_counter()
        for data in documents:
            try:
                found += read(data)  # type: ignore[operator]
            except ParseError:
                continue
        best = min(best, time.perf_counter() - started)
    return found, found / best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--smoke", action="store_true", help="ten feeds, one round (CI)")
    args = parser.parse_args()
    feeds = load_feeds(FEEDS, 10 if args.smoke else None)
    rounds = 1 if args.smoke else args.rounds
    documents = [data for _name, data in feeds]
    warnings.simplefilter("ignore")
    ref = FeedRef("f", URL)
    readings = {
        "newsbot (fast path + fallback)": lambda d: len(parse_feed(d, ref).articles),
        "feedparser, sanitizer off (baseline)": lambda d: len(
            parse_feed(d, ref, fast=False).articles
        ),
        "feedparser stock": lambda d: len(feedparser.parse(io.BytesIO(d)).entries),
    }
    results = {name: entries_per_second(documents, read, rounds) for name, read in readings.items()}
    baseline = results["feedparser, sanitizer off (baseline)"][1]
    print(f"documents: {len(documents)}, best of {rounds}")
    for name, (found, rate) in results.items():
        print(f"  {name:<38} {rate:8,.0f} entries/s ({found:,} entries)  {rate / baseline:5.2f}x")
    reasons: Counter[str] = Counter()
    fast_entries = 0
    for data in documents:
        try:
            fast_entries += len(read_fast(data, URL).entries)
        except Fallback as reason:
            reasons[str(reason).split(":")[0].split(" <")[0]] += 1
    fast_documents = len(documents) - sum(reasons.values())
    total = results["newsbot (fast path + fallback)"][0]
    print(
        f"fast path: {fast_documents}/{len(documents)} documents, "
        f"{fast_entries:,}/{total:,} entries; to feedparser: "
        + ", ".join(f"{why} {n}" for why, n in reasons.most_common())
    )


if __name__ == "__main__":
    main()
