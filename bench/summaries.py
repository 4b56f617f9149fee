"""Summary benchmark: ROUGE of the default summariser against Lead-3 on the same items.

Scores as the papers do (rouge-score, stemming on, F1): ROUGE-1, ROUGE-2 and ROUGE-Lsum,
with references, candidates and Lead-3 all split into sentences by the same regex
(``../shared/data/README.md``). Also prints summaries per second. Target (issue #3): reach
Lead-3 on all three, and beat it where possible.

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

from handlers.summarize import summarize_text

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

    started = time.perf_counter()
    ours = [summarize_text(item["article"]) for item in items]
    ours_seconds = time.perf_counter() - started
    started = time.perf_counter()
    baseline = [lead3(item["article"]) for item in items]
    lead_seconds = time.perf_counter() - started

    ours_scores = score(scorer, items, ours)
    lead_scores = score(scorer, items, baseline)
    print(f"items: {len(items)}")
    print(f"{'':22}{'ROUGE-1':>9}{'ROUGE-2':>9}{'ROUGE-Lsum':>12}")
    for name, scores in (("Lead-3 (baseline)", lead_scores), ("newsbot extractive", ours_scores)):
        print(f"{name:22}{scores['rouge1']:9.2f}{scores['rouge2']:9.2f}{scores['rougeLsum']:12.2f}")
    delta = {m: ours_scores[m] - lead_scores[m] for m in METRICS}
    print(
        f"{'difference':22}{delta['rouge1']:+9.2f}{delta['rouge2']:+9.2f}{delta['rougeLsum']:+12.2f}"
    )
    print(
        f"summaries per second: {len(items) / ours_seconds:,.0f} "
        f"(Lead-3 by regex: {len(items) / max(lead_seconds, 1e-9):,.0f})"
    )
    lengths = [len(s) for s in ours]
    print(f"summary length: mean {statistics.mean(lengths):.0f} chars, max {max(lengths)}")


if __name__ == "__main__":
    main()
