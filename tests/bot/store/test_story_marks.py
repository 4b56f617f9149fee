"""A channel's feedback weights: once per member, decaying, capped; and mutes."""

from __future__ import annotations

import pytest

from bot.store.connection import RedisHandle
from bot.store.story_marks import StoryMarks
from handlers.channels import ChannelRef
from handlers.feedback import HALF_LIFE, MARKS, WEIGHTS_MAX

HERE = ChannelRef("slack", "T1", "C1")


async def test_weights_decay_with_a_thirty_day_half_life(handle: RedisHandle) -> None:
    now = [1_800_000_000.0]
    marks = StoryMarks(handle.client, handle.keys, clock=lambda: now[0])
    assert await marks.vote(HERE, "s1", "U1", up=True, counts_for=["s:f1", "t:harbour"])
    now[0] += HALF_LIFE
    weights, count = await marks.weights(HERE)
    assert weights["s:f1"] == pytest.approx(0.5, abs=1e-3) and count == 1
    assert await marks.vote(HERE, "s2", "U1", up=False, counts_for=["s:f1"])
    weights, count = await marks.weights(HERE)
    assert weights["s:f1"] == pytest.approx(-0.5, abs=1e-3), "decayed, then the new mark"
    assert count == 2


async def test_a_channel_keeps_at_most_its_cap_of_weights_dropping_the_weakest(
    handle: RedisHandle,
) -> None:
    now = [1_800_000_000.0]
    marks = StoryMarks(handle.client, handle.keys, clock=lambda: now[0])
    await marks.vote(HERE, "liked", "U0", up=True, counts_for=["s:f1", "t:keep"])
    await marks.vote(HERE, "liked", "U1", up=True, counts_for=["s:f1", "t:keep"])
    now[0] += 86400
    many = [f"t:word{n}" for n in range(WEIGHTS_MAX + 50)]
    assert await marks.vote(HERE, "other", "U2", up=True, counts_for=many)
    raw = await handle.client.hgetall(handle.keys.channel_feedback(str(HERE)))
    assert len(raw) == WEIGHTS_MAX + 1 and MARKS in raw, "the cap, and the marks count"
    weights, count = await marks.weights(HERE)
    assert weights["t:keep"] > 1.9 and weights["s:f1"] > 1.9, "the strongest stay"
    assert count == 3


async def test_a_mute_is_once_and_takes_the_story_out_of_the_pending_digest(
    handle: RedisHandle,
) -> None:
    marks = StoryMarks(handle.client, handle.keys)
    pending = handle.keys.channel_pending(str(HERE))
    await handle.client.zadd(pending, {"s1": 1, "s2": 2})
    assert await marks.mute(HERE, "s1") and not await marks.mute(HERE, "s1")
    assert [str(s) for s in await handle.client.zrange(pending, 0, -1)] == ["s2"]
    other = ChannelRef("slack", "T1", "C2")
    assert await marks.muted({str(HERE): ["s1", "s2"], str(other): ["s1"]}) == {(str(HERE), "s1")}
