"""The news signal on plain data: when a story breaks, what trends, how feedback ranks."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from handlers.breaking import BreakingRule, breaks, outlets_in_window
from handlers.feedback import decayed, feedback_keys, key_terms, source_key
from handlers.ranking import SMART_AFTER, order_of, rank_items
from handlers.story import DigestItem, StoryCopy
from handlers.trending import trend_of, trending

NOW = datetime(2026, 12, 5, 12, tzinfo=UTC)


def copy(source: str, minutes_ago: float, *, feed: str = "f1", title: str = "T") -> StoryCopy:
    seen = NOW - timedelta(minutes=minutes_ago)
    return StoryCopy(f"{source}-{minutes_ago}", title, f"https://{source}.example/x", source,
                     feed, seen, seen)  # fmt: skip


def item(
    title: str, *, hours_ago: float = 1, outlets: int = 1, feed: str = "f1", sid: str = ""
) -> DigestItem:
    also = tuple(copy(f"other{n}", 10) for n in range(1, outlets))
    published = NOW - timedelta(hours=hours_ago)
    return DigestItem(
        sid or title, title, "https://x.example/" + title, "Main", published, "", also,
        story_id=sid or title, feed_id=feed,
    )  # fmt: skip


def test_a_story_breaks_at_the_threshold_within_the_window_and_not_below_it() -> None:
    rule = BreakingRule(3, 60)
    first = [copy("bbc", 50)]
    assert breaks([*first, copy("npr", 40)], rule) == 0, "two outlets: below"
    assert breaks([*first, copy("npr", 40), copy("npr", 30)], rule) == 0, "one outlet twice"
    assert breaks([*first, copy("npr", 40), copy("afp", 5)], rule) == 3
    late = [copy("bbc", 200), copy("npr", 190), copy("afp", 100)]
    assert outlets_in_window(late, 60) == 2, "the third came 100 minutes after the first"
    assert breaks(late, rule) == 0
    assert BreakingRule.parse(rule.text()) == rule
    assert BreakingRule.parse(None) is None and BreakingRule.parse("4") is None


def test_trending_ranks_by_outlets_gained_in_the_window_on_a_fixed_timeline() -> None:
    since = NOW - timedelta(hours=6)
    old_wide = trend_of(
        item("old-wide", outlets=1),
        [copy("a", 60 * 30), copy("b", 60 * 29), copy("c", 60 * 28), copy("d", 60)],
        since,
    )
    rising = trend_of(
        item("rising"), [copy("a", 60 * 5), copy("b", 60 * 3), copy("c", 60 * 2)], since
    )
    tie = trend_of(
        item("tie", hours_ago=0.5), [copy("x", 100), copy("y", 90), copy("z", 80)], since
    )
    quiet = trend_of(item("quiet"), [copy("a", 60 * 20)], since)
    assert (old_wide.gained, old_wide.outlets, old_wide.first) == (1, 4, "a")
    assert (rising.gained, rising.first) == (3, "a")
    order = [t.item.title for t in trending([quiet, old_wide, rising, tie])]
    assert order == ["tie", "rising", "old-wide"], "3 gained each: the newer first; quiet out"


def test_feedback_changes_the_smart_order_as_specified() -> None:
    liked = item("Harbour bridge reopens", feed="f2", hours_ago=10)
    plain = item("Wheat harvest record", feed="f1", hours_ago=1)
    wide = item("Comet visible tonight", feed="f1", hours_ago=10, outlets=4)
    since = NOW - timedelta(days=1)
    before = rank_items([liked, plain, wide], order="smart", since=since, now=NOW)
    assert [i.title for i in before] == [wide.title, plain.title, liked.title]
    weights = {source_key("f2"): 3.0, **{f"t:{t}": 1.0 for t in key_terms(liked.title)}}
    after = rank_items([liked, plain, wide], order="smart", since=since, now=NOW, weights=weights)
    assert [i.title for i in after] == [wide.title, liked.title, plain.title], (
        "feedback lifts a liked source over a newer story, not over four outlets"
    )
    disliked = {source_key("f1"): -5.0}
    last = rank_items([plain, liked], order="smart", since=since, now=NOW, weights=disliked)
    assert last[-1] is plain
    by_time = rank_items([wide, liked, plain], order="time", since=since, now=NOW, weights=weights)
    assert by_time[0] is plain
    by_coverage = rank_items([liked, plain, wide], order="coverage", since=since, now=NOW)
    assert by_coverage[0] is wide and by_coverage[1] is plain


def test_the_default_order_turns_smart_after_twenty_marks_and_feedback_decays() -> None:
    assert order_of(None, SMART_AFTER - 1) == "default"
    assert order_of(None, SMART_AFTER) == "smart"
    assert order_of("time", 500) == "time"
    assert decayed(4.0, 0, 30 * 86400) == pytest.approx(2.0)
    keys = feedback_keys(item("The Harbour Bridge reopens to traffic", feed="f7"))
    assert keys[0] == "s:f7" and "t:harbour" in keys and "t:the" not in keys
