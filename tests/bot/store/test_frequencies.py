"""Document frequencies on a real Redis: counted per day, read over the last week."""

from __future__ import annotations

from datetime import UTC, datetime

from bot.store.connection import RedisHandle
from bot.store.frequencies import COUNTERS, DAYS, RedisFrequencies, counter_of

NOW = datetime(2026, 2, 18, 12, tzinfo=UTC).timestamp()


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> float:
        return self.now


async def test_stories_are_counted_and_read_back_over_the_last_days(handle: RedisHandle) -> None:
    clock = Clock()
    store = RedisFrequencies(handle.client, handle.keys, clock=clock)
    await store.learn([{"iran", "talks"}, {"iran", "geneva"}, {"storm"}])
    clock.now += 86400
    await store.learn([{"iran"}])
    found = await store.get(["iran", "talks", "storm", "unseen"])
    assert found.documents == 4
    assert found.counts["iran"] == 3 and found.counts["talks"] == 1
    assert found.counts["storm"] == 1
    assert found.counts["unseen"] == 0 or counter_of("unseen") in {
        counter_of(w) for w in ("iran", "talks", "geneva", "storm")
    }
    clock.now += (DAYS - 1) * 86400
    later = await store.get(["iran"])
    assert (later.documents, later.counts["iran"]) == (1, 1), "only the last week counts"
    clock.now += 86400
    assert (await store.get(["iran"])).documents == 0


async def test_a_day_of_counts_takes_a_fixed_size(handle: RedisHandle) -> None:
    store = RedisFrequencies(handle.client, handle.keys, clock=Clock())
    await store.learn([{f"word{n}" for n in range(2000)} for _ in range(3)])
    day = datetime.fromtimestamp(NOW, UTC).strftime("%Y%m%d")
    assert await handle.client.strlen(handle.keys.word_counts(day)) <= COUNTERS * 2
    found = await store.get([f"word{n}" for n in range(2000)])
    assert min(found.counts.values()) >= 3
    assert await handle.client.ttl(handle.keys.word_counts(day)) > DAYS * 86400 - 60
