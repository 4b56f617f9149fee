"""Channels and subscriptions: parsing channel ids, and the store on real Redis."""

from __future__ import annotations

import pytest

from bot.store.alerts import Alert
from bot.store.connection import RedisHandle
from bot.store.subscriptions import SubscriptionStore, prune_channels
from handlers.channels import ChannelError, ChannelRef, check_filter

MAIN = ChannelRef("console", "local", "main")
NEWS = ChannelRef("slack", "T0123", "C0456")


@pytest.mark.parametrize(
    "text", ["slack:T0123:C0456", "discord:112233:445566", "console:local:main"]
)
def test_channel_ids_round_trip(text: str) -> None:
    assert str(ChannelRef.parse(text)) == text


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("slack:T0123", "PLATFORM:WORKSPACE:CHANNEL"),
        ("irc:net:chan", "unknown platform"),
        ("slack:T 1:C2", "ids of letters and digits"),
    ],
)
def test_bad_channel_ids_say_how_to_write_one(text: str, message: str) -> None:
    with pytest.raises(ChannelError, match=message):
        ChannelRef.parse(text)


def test_filters_are_checked_with_the_query_language() -> None:
    assert check_filter("  ukraine -sport ") == "ukraine -sport"
    with pytest.raises(ChannelError, match=r"filter: .*never closed"):
        check_filter("(ukraine")


async def test_subscribe_again_changes_only_what_is_given(handle: RedisHandle) -> None:
    store = SubscriptionStore(handle.client, handle.keys)
    _first, new = await store.subscribe(MAIN, "f1", now=10, filter="ukraine", added_by="U1")
    again, new_again = await store.subscribe(MAIN, "f1", now=20, mode="instant")
    assert (new, new_again) == (True, False)
    assert (again.mode, again.filter, again.added_by, again.added_at) == (
        "instant",
        "ukraine",
        "U1",
        10,
    )
    await store.subscribe(NEWS, "f1", now=30)
    await store.subscribe(MAIN, "f2", now=40)
    assert [s.feed_id for s in await store.of_channel(MAIN)] == ["f1", "f2"]
    assert [str(s.channel) for s in await store.of_feed("f1")] == [str(MAIN), str(NEWS)]
    assert await store.unsubscribe(MAIN, "f2") and not await store.unsubscribe(MAIN, "f2")
    assert await store.forget_feed("f1") == 2
    assert await store.of_channel(MAIN) == [] and await store.of_feed("f1") == []


async def test_a_channel_with_nothing_left_is_forgotten(handle: RedisHandle) -> None:
    """Issue #21: ``channels`` and the channels' hashes are bounded: a channel with no
    subscription, setting or channel alert left is pruned."""
    store = SubscriptionStore(handle.client, handle.keys)
    bare, scheduled, alerted = (ChannelRef("slack", "T1", c) for c in ("C1", "C2", "C3"))
    for channel in (bare, scheduled, alerted):
        await store.subscribe(channel, "f1", now=0)
        await store.set_visibility(channel, public=True)
    await store.set_channel(scheduled, schedule="daily 07:00")
    alert = Alert("a1", "slack", "T1", "U1", str(alerted), "harbour", channel=str(alerted))
    await handle.client.hset(handle.keys.alerts, "a1", alert.to_json())
    await handle.client.zadd(handle.keys.channel_pending(str(bare)), {"s1": 1})
    for channel in (bare, scheduled, alerted):
        await store.unsubscribe(channel, "f1")
    assert await handle.client.smembers(handle.keys.channels) == {str(scheduled), str(alerted)}
    assert not await handle.client.exists(
        handle.keys.channel(str(bare)), handle.keys.channel_pending(str(bare))
    )
    await handle.client.hdel(handle.keys.alerts, "a1")  # the alert removed
    assert await prune_channels(handle.client, handle.keys) == 1
    assert await handle.client.smembers(handle.keys.channels) == {str(scheduled)}
