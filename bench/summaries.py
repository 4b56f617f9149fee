"""Summary benchmark: ROUGE of the product's summaries against Lead-3 on the same items.

Scores as the papers do (rouge-score, stemming on, F1): ROUGE-1, ROUGE-2 and ROUGE-Lsum,
with references, candidates and Lead-3 all split into sentences by the same regex
(``../shared/data/README.md``). Summaries come from the product's path,
`summarize_article` on an article with a title, in two conditions (issue #14): no title,
and a headline made of the lead's first nine words (wire copy often echoes its headline).
Target: beat Lead-3 on all three in both conditions.

The rules were tuned on the even-numbered items only; the odd-numbered ones are reported
apart, as held out (with 125 items, a rule tuned on all of them overstates its gain).
Also prints summaries per second.

    python bench/summaries.py            # the 125 CNN/DM items in ../shared/data/summaries-dev
    python bench/summaries.py --smoke    # ten items (CI)
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import time
from pathlib import Path

from rouge_score import rouge_scorer

from handlers.article import Article
from handlers.summarize import summarize_article

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data" / "summaries-dev" / "cnndm-dev.jsonl"
_SPLIT = re.compile(r"(?<=[.!?])\s+(?=[A-Z\"'‘“(])")
METRICS = ("rouge1", "rouge2", "rougeLsum")


def sentences(text: str) -> list[str]:
    return [s for s in _SPLIT.split(text.strip()) if s]


def lead3(article: str) -> str:
    return "\n".join(sentences(article)[:3])


def score(
    scorer: rouge_scorer.RougeScorer, items: list[dict[str, str]], summaries: list[str]
) -> dict[str, float]:
    totals: dict[str, list[float]] = {m: [] for m in METRICS}
    for item, summary in zip(items, summaries, strict=True):
        reference = "\n".join(sentences(item["reference"]))
        candidate = "\n".join(sentences(summary))
        result = scorer.score(reference, candidate)
        for metric in METRICS:
            totals[metric].append(result[metric].fmeasure * 100)
    return {m: statistics.mean(v) for m, v in totals.items()}


CONDITIONS = ("no title", "headline = lead's first 9 words")


def as_article(text: str, condition: str) -> Article:
    headline = " ".join(text.split()[:9]) if condition != CONDITIONS[0] else ""
    return Article(
        feed_id="bench",
        feed_url="https://bench.invalid/feed",
        source="CNN/DM",
        entry_key="item",
        title=headline,
        content=text,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--limit", type=int)
    parser.add_argument("--smoke", action="store_true", help="ten items (for CI)")
    args = parser.parse_args()
    limit = 10 if args.smoke else args.limit
    items = [json.loads(line) for line in args.data.read_text("utf-8").splitlines() if line]
    items = items[:limit]
    scorer = rouge_scorer.RougeScorer(list(METRICS), use_stemmer=True)
    halves = {"tuning (even items)": items[0::2], "held out (odd items)": items[1::2]}
    print(f"items: {len(items)}")
    print(f"{'':42}{'ROUGE-1':>9}{'ROUGE-2':>9}{'ROUGE-Lsum':>12}")
    for half, chosen in halves.items():
        lead_scores = score(scorer, chosen, [lead3(item["article"]) for item in chosen])
        print(f"{half}, {len(chosen)} items")
        print(f"  {'Lead-3 (baseline)':40}" + "".join(_columns(lead_scores)) + "\n", end="")
        for condition in CONDITIONS:
            ours = [summarize_article(as_article(i["article"], condition)).summary for i in chosen]
            delta = {m: v - lead_scores[m] for m, v in score(scorer, chosen, ours).items()}
            print(f"  {'newsbot, ' + condition:40}" + "".join(_columns(delta, sign=True)))
    started = time.perf_counter()
    ours = [summarize_article(as_article(i["article"], CONDITIONS[1])).summary for i in items]
    seconds = time.perf_counter() - started
    print("  (newsbot rows are the difference from Lead-3 on the same items)")
    print(f"summaries per second: {len(items) / seconds:,.0f}")
    lengths = [len(s) for s in ours]
    print(f"summary length: mean {statistics.mean(lengths):.0f} chars, max {max(lengths)}")


def _columns(scores: dict[str, float], *, sign: bool = False) -> list[str]:
    widths = {"rouge1": 9, "rouge2": 9, "rougeLsum": 12}
    return [f"{scores[m]:{'+' if sign else ''}{widths[m]}.2f}" for m in METRICS]


if __name__ == "__main__":
    main()
