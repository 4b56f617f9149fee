"""Building a digest: what is in it, in what order, and what is left out."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from handlers.digest import build_digest
from handlers.story import Story, StoryCopy

NOW = datetime(2026, 11, 27, 9, tzinfo=UTC)
SINCE = NOW - timedelta(days=1)


def story(
    sid: str, hours_ago: float, *, outlets: int = 1, feed: str = "f1", backlog: bool = False
) -> Story:
    published = NOW - timedelta(hours=hours_ago)
    copies = [
        StoryCopy(
            sid,
            f"Story {sid}",
            f"https://x.example/{sid}",
            "Outlet 0",
            feed,
            published,
            NOW,
            True,
            backlog,
        )
    ]
    copies += [
        StoryCopy(
            f"{sid}{n}",
            f"Story {sid} ({n})",
            f"https://o{n}.example/{sid}",
            f"Outlet {n}",
            f"g{n}",
            published + timedelta(minutes=n),
            NOW,
            False,
            backlog,
        )
        for n in range(1, outlets)
    ]
    return Story(sid, f"Summary of {sid}.", "extractive", tuple(copies))


def test_more_outlets_then_newer_first() -> None:
    digest = build_digest(
        [story("old", 20), story("new", 1), story("wide", 12, outlets=3)],
        heading="Today",
        since=SINCE,
        now=NOW,
    )
    assert [i.id for i in digest.items] == ["wide", "new", "old"]
    assert len(digest.items[0].also) == 2 and digest.more == 0


def test_feed_priority_lifts_a_story() -> None:
    digest = build_digest(
        [story("a", 1), story("b", 10, feed="important")],
        heading="Today",
        since=SINCE,
        now=NOW,
        priorities={"important": 2},
    )
    assert [i.id for i in digest.items] == ["b", "a"]


def test_cap_and_more() -> None:
    digest = build_digest(
        [story(str(n), n) for n in range(15)], heading="Today", since=SINCE, now=NOW, cap=10
    )
    assert len(digest.items) == 10 and digest.more == 5
    assert [i.id for i in digest.items] == [str(n) for n in range(10)]


def test_backlog_is_never_delivered_and_empty_is_empty() -> None:
    digest = build_digest(
        [story("history", 3, backlog=True)], heading="Today", since=SINCE, now=NOW
    )
    assert digest.items == () and digest.empty
