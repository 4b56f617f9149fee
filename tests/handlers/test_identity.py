"""Entry identity per feed, and the first fetch's backlog."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from handlers.article import Article
from handlers.first_fetch import mark_backlog
from handlers.identity import choose_mode, resolve_identity, snapshot
from tests.articles import article

T0 = datetime(2026, 11, 27, tzinfo=UTC)


def fetch(guids: list[str], *, links: list[str] | None = None, dated: bool = True) -> list[Article]:
    links = links or [f"https://example.com/{n}" for n in range(len(guids))]
    return [
        article(
            entry_key=g or link,
            guid=g,
            url=link,
            title=f"Story {n}",
            published=T0 - timedelta(hours=n) if dated else None,
        )
        for n, (g, link) in enumerate(zip(guids, links, strict=True))
    ]


def test_stable_guids_keep_guid_mode() -> None:
    first = fetch(["a", "b", "c"])
    assert choose_mode("guid", fetch(["a", "b", "c"]), snapshot(first)) == ("guid", "")


def test_guids_that_change_every_fetch_switch_to_links() -> None:
    first = fetch(["r1", "r2", "r3"])
    mode, reason, rekeyed, _ = resolve_identity("guid", fetch(["x1", "x2", "x3"]), snapshot(first))
    assert (mode, reason) == ("link", "guids change between fetches")
    assert [a.entry_key for a in rekeyed] == [f"link:example.com/{n}" for n in range(3)]


def test_repeated_guids_switch_to_links_then_titles() -> None:
    assert choose_mode("guid", fetch(["same", "same", "other"]), None)[0] == "link"
    repeated_links = fetch(["s", "s", "s"], links=["https://example.com/"] * 3)
    mode, _, rekeyed, _ = resolve_identity("guid", repeated_links, None)
    assert mode == "title" and len({a.entry_key for a in rekeyed}) == 3


def test_modes_never_move_back() -> None:
    assert resolve_identity("link", fetch(["a", "b"]), None)[0] == "link"


def test_mark_backlog_keeps_the_newest() -> None:
    entries = fetch([f"g{n}" for n in range(8)])
    undated = article(entry_key="u", guid="u", published=None)
    marked = mark_backlog([undated, *entries], deliver=3)
    assert [a.guid for a in marked if not a.backlog] == ["g0", "g1", "g2"]
    assert len(marked) == 9, "nothing dropped"
    assert [a.backlog for a in mark_backlog(entries[:2], deliver=5)] == [False, False]
