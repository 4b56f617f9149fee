"""The pipeline on real Redis: dedup rules, folding, idempotent retries, failure isolation."""

from __future__ import annotations

from collections.abc import Sequence

from bot.roles.pipeline import Pipeline, build_pipeline
from bot.store.connection import RedisHandle
from bot.store.stories import load_stories
from handlers.article import Article
from handlers.steps import PerArticleStep, Step
from tests.articles import article

TTL = 3600


def step_named(pipeline: Pipeline, name: str) -> Step:
    return next(step for step in pipeline.steps if step.name == name)


def pipeline_for(handle: RedisHandle) -> Pipeline:
    return build_pipeline(handle.client, handle.keys, ttl=TTL)


async def test_new_entries_are_stored_with_summaries(handle: RedisHandle) -> None:
    outcome = await pipeline_for(handle).process([article()])
    [stored] = outcome.articles
    assert stored.summary == "Lead sentence here. Second sentence follows."
    [story] = await load_stories(handle.client, handle.keys, [stored.story_id])
    assert story.summary == stored.summary and story.copies[0].url == "https://example.com/story"
    assert await handle.client.ttl(handle.keys.story(stored.story_id)) > 0


async def test_a_repeat_of_an_entry_goes_no_further(handle: RedisHandle) -> None:
    pipeline = pipeline_for(handle)
    await pipeline.process([article()])
    outcome = await pipeline.process([article()])
    assert outcome.articles == []


async def test_an_edited_title_updates_the_story_and_is_not_new(handle: RedisHandle) -> None:
    pipeline = pipeline_for(handle)
    [first] = (await pipeline.process([article(title="Mayor resigns")])).articles
    [edited] = (
        await pipeline.process(
            [article(title="Mayor resigns after audit", url="https://example.com/story?v2")]
        )
    ).articles
    assert edited.update and edited.story_id == first.story_id
    [story] = await load_stories(handle.client, handle.keys, [first.story_id])
    assert [c.title for c in story.copies] == ["Mayor resigns after audit"]
    assert await handle.client.zcard(handle.keys.stories) == 1
    assert (
        await pipeline.process(
            [article(title="Mayor resigns after audit", url="https://example.com/story?v2")]
        )
    ).articles == []


async def test_same_url_in_another_feed_folds_into_the_story(handle: RedisHandle) -> None:
    pipeline = pipeline_for(handle)
    first = (await pipeline.process([article()])).articles[0]
    copy = article(
        feed_id="f2",
        source="Other outlet",
        entry_key="other-guid",
        url="HTTPS://EXAMPLE.com:443/story#comments",
    )
    [folded] = (await pipeline.process([copy])).articles
    assert folded.is_copy and folded.story_id == first.story_id
    [story] = await load_stories(handle.client, handle.keys, [first.story_id])
    assert sorted(c.source for c in story.copies) == ["Example", "Other outlet"]


async def test_a_retried_batch_is_not_mistaken_for_a_repeat(handle: RedisHandle) -> None:
    """A worker that crashed after dedup but before acking sees the same batch again."""
    pipeline = pipeline_for(handle)
    entry = article()
    await pipeline.steps[1].run([pipeline.steps[0].transform(entry)])  # type: ignore[attr-defined]
    outcome = await pipeline.process([entry])
    assert [a.ingest_id for a in outcome.articles] == [entry.ingest_id]
    assert await load_stories(handle.client, handle.keys, [outcome.articles[0].story_id])


async def test_one_bad_entry_fails_alone(handle: RedisHandle) -> None:
    def explode_on_poison(item: Article) -> Article:
        if "poison" in item.title:
            raise ValueError("cannot handle this one")
        return item

    base = pipeline_for(handle)
    recorded: list[Sequence[object]] = []

    async def sink(failures: Sequence[object]) -> None:
        recorded.append(failures)

    steps = [base.steps[0], PerArticleStep("explode", explode_on_poison), *base.steps[1:]]
    pipeline = Pipeline(steps, failure_sink=sink)
    batch = [
        article(entry_key=f"g{i}", url=f"https://example.com/{i}", title=title)
        for i, title in enumerate(["fine", "poison pill", "also fine"])
    ]
    outcome = await pipeline.process(batch)
    assert [a.title for a in outcome.articles] == ["fine", "also fine"]
    [failure] = outcome.failures
    assert (
        failure.step == "explode" and failure.entry_key == "g1" and "cannot handle" in failure.error
    )
    assert recorded == [outcome.failures]


async def test_optional_step_failure_lets_the_entry_through(handle: RedisHandle) -> None:
    def broken_summary(_item: Article) -> Article:
        raise RuntimeError("summariser broke")

    base = pipeline_for(handle)
    steps = [
        step_named(base, "normalize"),
        step_named(base, "dedup"),
        PerArticleStep("summarize", broken_summary, required=False),
        step_named(base, "fold"),
        step_named(base, "store"),
    ]
    outcome = await Pipeline(steps).process([article()])
    assert len(outcome.articles) == 1 and outcome.articles[0].summary == ""
    assert outcome.failures[0].step == "summarize"


async def test_failures_are_recorded_in_redis(handle: RedisHandle) -> None:
    pipeline = pipeline_for(handle)

    def boom(_item: Article) -> Article:
        raise ValueError("bad")

    pipeline.steps.insert(1, PerArticleStep("boom", boom))
    await pipeline.process([article()])
    [(_id, fields)] = await handle.client.xrange(handle.keys.failures)
    assert fields["step"] == "boom" and fields["entry"] == "guid-1"


async def test_entries_sharing_one_link_are_all_kept(handle: RedisHandle) -> None:
    """Some feeds link every entry to one page, or tell entries apart by a #fragment only."""
    pipeline = pipeline_for(handle)
    same_link = [
        article(entry_key=f"s{n}", url="https://status.example.com/", title=f"Outage {n}")
        for n in range(3)
    ]
    anchors = [
        article(
            entry_key=f"a{n}", url=f"https://list.example.com/awesome#item-{n}", title=f"Item {n}"
        )
        for n in range(3)
    ]
    stored = (await pipeline.process(same_link + anchors)).articles
    assert len(stored) == 6 and len({a.story_id for a in stored}) == 6
    assert not any(a.is_copy for a in stored)
    assert await handle.client.zcard(handle.keys.stories) == 6


async def test_an_edit_of_a_shared_link_entry_updates_its_own_story(
    handle: RedisHandle,
) -> None:
    """A feed whose entries all link to its home page: entry B is a story of its own, and
    an edit of B must update B, not the unrelated story A that shares the link."""
    pipeline = build_pipeline(handle.client, handle.keys, ttl=3600)
    home = "https://blog.example.com/"
    [story_a] = (
        await pipeline.process([article(entry_key="a", url=home, title="Harbour reopens")])
    ).articles
    [story_b] = (
        await pipeline.process([article(entry_key="b", url=home, title="Comet seen tonight")])
    ).articles
    assert story_b.story_id != story_a.story_id
    [edit] = (
        await pipeline.process([article(entry_key="b", url=home, title="Comet seen at dusk")])
    ).articles
    assert edit.update and edit.story_id == story_b.story_id
    a, b = await load_stories(handle.client, handle.keys, [story_a.story_id, story_b.story_id])
    assert [c.title for c in a.copies] == ["Harbour reopens"]
    assert [c.title for c in b.copies] == ["Comet seen at dusk"]
