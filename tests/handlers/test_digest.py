"""Building a digest: what is in it, in what order, and what is left out."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from handlers.digest import Digest, build_digest, deliverable
from handlers.story import Story, StoryCopy
from handlers.visibility import EVERYTHING, Audience, project_all

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


def digest_of(stories: list[Story], audience: Audience = EVERYTHING, **options: Any) -> Digest:
    """A digest as the scheduler builds it: deliverable stories, as the audience sees them."""
    return build_digest(project_all(deliverable(stories), audience), **options)


def test_more_outlets_then_newer_first() -> None:
    digest = digest_of(
        [story("old", 20), story("new", 1), story("wide", 12, outlets=3)],
        heading="Today",
        since=SINCE,
        now=NOW,
    )
    assert [i.id for i in digest.items] == ["wide", "new", "old"]
    assert len(digest.items[0].also) == 2 and digest.more == 0


def test_feed_priority_lifts_a_story() -> None:
    digest = digest_of(
        [story("a", 1), story("b", 10, feed="important")],
        heading="Today",
        since=SINCE,
        now=NOW,
        priorities={"important": 2},
    )
    assert [i.id for i in digest.items] == ["b", "a"]


def test_cap_and_more() -> None:
    digest = digest_of(
        [story(str(n), n) for n in range(15)], heading="Today", since=SINCE, now=NOW, cap=10
    )
    assert len(digest.items) == 10 and digest.more == 5
    assert [i.id for i in digest.items] == [str(n) for n in range(10)]


def test_backlog_is_never_delivered_and_empty_is_empty() -> None:
    digest = digest_of([story("history", 3, backlog=True)], heading="Today", since=SINCE, now=NOW)
    assert digest.items == () and digest.empty


def test_outlets_a_channel_may_not_see_neither_show_nor_rank() -> None:
    stories = [story("wide", 12, outlets=3), story("new", 1, outlets=2)]  # feeds f1, g1, g2
    everyone = digest_of(stories, heading="Today", since=SINCE, now=NOW)
    assert [i.id for i in everyone.items] == ["wide", "new"]
    channel = Audience(own=frozenset({"f1"}), visible=frozenset({"f1", "g1"}))
    digest = digest_of(stories, channel, heading="Today", since=SINCE, now=NOW)
    assert [i.id for i in digest.items] == ["new", "wide"], "an unseen outlet does not rank"
    assert [c.feed_id for c in digest.items[1].also] == ["g1"] and digest.items[1].outlets == 2
    assert "Outlet 2" not in repr(digest)
