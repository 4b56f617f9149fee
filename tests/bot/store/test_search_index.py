"""Search through the Redis index: the query language over titles, summaries and sources."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.roles.pipeline import build_pipeline
from bot.store.connection import RedisHandle
from bot.store.search_index import SearchIndex
from handlers.query import QueryError
from handlers.visibility import Audience
from tests.articles import article

NOW = datetime(2026, 11, 27, 12, tzinfo=UTC)
STORIES = [
    ("f1", "Central bank raises interest rates", "The Bank of England raised rates to 5%.", 1),
    ("f1", "Ukraine and Russia agree ceasefire talks", "Talks start in Geneva on Monday.", 2),
    ("f2", "Football: Ukraine beat Wales", "A late goal sent Ukraine through.", 3),
    ("f2", "Café owners in Zürich protest rent rises", "Owners say rents doubled.", 4),
    ("f3", "Peace talks resume in Geneva", "Diplomats met for a second day.", 30),
]


@pytest.fixture
async def index(handle: RedisHandle) -> SearchIndex:
    pipeline = build_pipeline(handle.client, handle.keys, ttl=30 * 86400, clock=NOW.timestamp)
    for number, (feed, title, lead, hours) in enumerate(STORIES):
        entry = article(
            feed_id=feed,
            source=f"Source {feed}",
            entry_key=f"e{number}",
            url=f"https://{feed}.example.com/{number}",
            title=title,
            description=f"<p>{lead}</p>",
            published=NOW - timedelta(hours=hours),
            seen_at=NOW,
        )
        await pipeline.process([entry])
    return SearchIndex(handle.client, handle.keys, ttl=30 * 86400, clock=NOW.timestamp)


async def titles(index: SearchIndex, query: str, **options: object) -> list[str]:
    found = await index.search(query, **options)  # type: ignore[arg-type]
    return [item.title for item in found.items]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("ukraine", ["Ukraine and Russia agree ceasefire talks", "Football: Ukraine beat Wales"]),
        ("ukraine -football", ["Ukraine and Russia agree ceasefire talks"]),
        ('"peace talks"', ["Peace talks resume in Geneva"]),
        ("geneva", ["Ukraine and Russia agree ceasefire talks", "Peace talks resume in Geneva"]),
        ("title:geneva", ["Peace talks resume in Geneva"]),
        ("rate", ["Central bank raises interest rates"]),
        (
            "zurich OR wales",
            ["Football: Ukraine beat Wales", "Café owners in Zürich protest rent rises"],
        ),
        (
            "source:f2 (cafe OR football)",
            ["Football: Ukraine beat Wales", "Café owners in Zürich protest rent rises"],
        ),
        ("ai", []),
    ],
)
async def test_queries_newest_first(index: SearchIndex, query: str, expected: list[str]) -> None:
    assert await titles(index, query) == expected


async def test_only_the_channels_feeds_and_a_limit(index: SearchIndex) -> None:
    f3 = Audience(visible=frozenset({"f3"}))
    assert await titles(index, "geneva", audience=f3) == ["Peace talks resume in Geneva"]
    assert len(await titles(index, "ukraine OR geneva OR rates", limit=2)) == 2


async def test_a_query_of_common_words_only_is_refused(index: SearchIndex) -> None:
    with pytest.raises(QueryError, match="not a common one"):
        await index.search("the AND was")
    with pytest.raises(QueryError, match="not a common one"):
        await index.search("-ukraine")


async def test_index_keys_expire_with_retention(index: SearchIndex, handle: RedisHandle) -> None:
    keys = [k async for k in handle.client.scan_iter(match=handle.keys.search_words("*", "*"))]
    assert keys
    ttls = [await handle.client.ttl(k) for k in keys]
    assert all(0 < ttl <= 31 * 86400 for ttl in ttls)


@pytest.mark.parametrize("query", ["author:smith", "ukraine -author:smith", "(AUTHOR:smith)"])
async def test_author_is_refused_with_a_reason_not_silently_empty(
    index: SearchIndex, query: str
) -> None:
    with pytest.raises(QueryError, match="author: works in feed filters") as caught:
        await index.search(query)
    assert query[caught.value.position :].lower().startswith("author:")


async def test_a_copys_own_words_find_it_only_where_its_feed_is_seen(handle: RedisHandle) -> None:
    pipeline = build_pipeline(handle.client, handle.keys, ttl=30 * 86400, clock=NOW.timestamp)
    shared = "https://news.example.com/bridge"
    for feed, title, lead in [
        ("fa", "Harbour bridge reopens", "The bridge reopened after repairs."),
        ("fb", "Bridge contract memo", "Internal: the zebra contract covers the bridge."),
    ]:
        entry = article(
            feed_id=feed,
            source=f"Source {feed}",
            entry_key=f"{feed}-1",
            url=shared,
            title=title,
            description=f"<p>{lead}</p>",
            published=NOW - timedelta(hours=1),
            seen_at=NOW,
        )
        await pipeline.process([entry])
    index = SearchIndex(handle.client, handle.keys, ttl=30 * 86400, clock=NOW.timestamp)
    fa, fb = Audience(visible=frozenset({"fa"})), Audience(visible=frozenset({"fb"}))
    assert await titles(index, "zebra", audience=fb) == ["Bridge contract memo"]
    assert await titles(index, "zebra", audience=fa) == [], "words of a copy fa cannot see"
    [hit] = (await index.search("bridge", audience=fa)).items
    assert hit.title == "Harbour bridge reopens" and hit.also == () and hit.source == "Source fa"


async def test_numbers_from_before_copies_named_their_feed_still_find_visible_stories(
    index: SearchIndex, handle: RedisHandle
) -> None:
    """An index the previous version wrote has plain numbers: they stay candidates, judged
    on the visible copies once loaded."""
    renumbered: dict[tuple[str, str], str] = {}  # (day, number) -> a plain number
    async for key in handle.client.scan_iter(match=handle.keys.search_ids("*")):
        day = str(key).split(":")[-2]
        rows = await handle.client.hgetall(key)
        await handle.client.delete(key)
        for number, story in rows.items():
            renumbered[day, number] = f"{len(renumbered) + 1:x}"
            await handle.client.hset(key, renumbered[day, number], story)
    async for key in handle.client.scan_iter(match=handle.keys.search_words("*", "*")):
        *_, day, bucket = str(key).split(":")
        if bucket in {"ids", "seq"}:
            continue  # the day's numbers, not its words
        rows = await handle.client.hgetall(key)
        old = {w: " ".join(renumbered[day, n] for n in v.split()) for w, v in rows.items()}
        await handle.client.hset(key, mapping=old)
    f3 = Audience(visible=frozenset({"f3"}))
    assert await titles(index, "geneva", audience=f3) == ["Peace talks resume in Geneva"]


async def test_a_search_past_its_cpu_budget_answers_with_what_it_found(
    handle: RedisHandle,
) -> None:
    """Issue #22: an expensive query is cut at NEWSBOT_SEARCH_BUDGET_MS of CPU time and
    says its answer is partial; the same query with time enough finds everything."""
    pipeline = build_pipeline(handle.client, handle.keys, ttl=30 * 86400, clock=NOW.timestamp)
    await pipeline.process(
        [
            article(
                feed_id="f1",
                entry_key=f"h{n}",
                url=f"https://f1.example.com/h{n}",
                title=f"Harbour report number {n} on tides and ships",
                description=f"<p>Harbour story {n}.</p>",
                published=NOW - timedelta(minutes=n),
                seen_at=NOW,
            )
            for n in range(400)
        ]
    )
    index = SearchIndex(handle.client, handle.keys, ttl=30 * 86400, clock=NOW.timestamp)
    query = " OR ".join(["title:harbour", "title:report", "title:tides"] * 5)
    cut = await index.search(query, limit=1000, budget_ms=0.5)
    assert cut.partial and len(cut.items) < 400
    full = await index.search(query, limit=1000, budget_ms=60_000)
    assert not full.partial and len(full.items) == 400
    newest = [item.title for item in full.items[: len(cut.items)]]
    assert [item.title for item in cut.items] == newest, "what it found, newest first"
