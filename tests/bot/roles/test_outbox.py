"""The outbox: each delivery once; refusals retried, held or dead-lettered by their class;
other channels unblocked."""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
import time
from collections.abc import Mapping

import pytest

from bot.roles.outbox import DeliveryFailed, OutboxConsumer, Refusal
from bot.settings import Settings
from bot.store.connection import RedisHandle, open_redis
from bot.store.holds import HoldStore
from bot.store.pacing import ChannelPacer
from handlers.article import short_hash


class Recorder:
    """A deliverer that records what it sends and refuses what it is told to."""

    platform = "console"

    def __init__(self) -> None:
        self.sent: list[str] = []
        self.plain: list[str] = []
        self.told: list[tuple[str, str]] = []
        self.times: dict[str, float] = {}
        self.refuse: dict[str, DeliveryFailed] = {}
        self.refuse_delivery: dict[str, DeliveryFailed] = {}
        self.refuse_plain: set[str] = set()
        self.messages: list[Mapping[str, str]] = []

    async def deliver(self, message: Mapping[str, str], *, plain: bool = False) -> None:
        if message["channel"] in self.refuse:
            raise self.refuse[message["channel"]]
        if plain and message["delivery"] in self.refuse_plain:
            raise DeliveryFailed("still too long", refusal=Refusal.MESSAGE)
        if not plain and message["delivery"] in self.refuse_delivery:
            raise self.refuse_delivery[message["delivery"]]
        (self.plain if plain else self.sent).append(message["delivery"])
        self.messages.append(message)
        self.times[message["delivery"]] = time.monotonic()

    async def tell_refused(self, channel: object, reason: str) -> None:
        self.told.append((str(channel), reason))


def consumer(
    handle: RedisHandle, deliverer: Recorder, pacer: ChannelPacer | None = None, name: str = "test"
) -> OutboxConsumer:
    return OutboxConsumer(
        client=handle.client,
        blocking=handle.blocking,
        keys=handle.keys,
        deliverer=deliverer,
        consumer=name,
        ttl=3600,
        block_ms=10,
        pacer=pacer or ChannelPacer(handle.client, handle.keys, 0.0),
    )


async def queue(handle: RedisHandle, channel: str, delivery: str) -> None:
    await handle.client.xadd(
        handle.keys.outbox("console"),
        {"delivery": delivery, "channel": channel, "kind": "quiet", "text": "hi"},
    )


async def queue_story(handle: RedisHandle, channel: str, story: str) -> None:
    await handle.client.xadd(
        handle.keys.outbox("console"),
        {
            "delivery": f"{channel}|story|{story}",
            "channel": channel,
            "kind": "story",
            "story": story,
        },
    )


async def test_a_delivery_id_is_sent_once(handle: RedisHandle) -> None:
    recorder = Recorder()
    await queue(handle, "console:a:1", "console:a:1|digest|100")
    await queue(handle, "console:a:1", "console:a:1|digest|100")  # re-queued after a crash
    await queue(handle, "console:a:1", "console:a:1|digest|200")
    assert await consumer(handle, recorder).drain() == 3
    assert recorder.sent == ["console:a:1|digest|100", "console:a:1|digest|200"]
    assert await handle.client.xlen(handle.keys.outbox("console")) == 0


async def test_a_refused_channel_is_held_told_once_and_others_go_on(
    handle: RedisHandle,
) -> None:
    recorder = Recorder()
    recorder.refuse["console:a:gone"] = DeliveryFailed(
        "not_in_channel: /invite @newsbot", refusal=Refusal.CHANNEL
    )
    await queue(handle, "console:a:gone", "gone|1")
    await queue(handle, "console:a:ok", "ok|1")
    await queue(handle, "console:a:gone", "gone|2")
    outbox = consumer(handle, recorder)
    assert await outbox.drain() == 3
    await queue(handle, "console:a:gone", "gone|3")  # routed while the channel is held
    await outbox.drain()
    assert recorder.sent == ["ok|1"]
    assert recorder.told == [("console:a:gone", "not_in_channel: /invite @newsbot")]
    assert await handle.client.xlen(handle.keys.outbox("console")) == 0, "all in the hold"
    held = await handle.client.lrange(handle.keys.channel_held("console:a:gone"), 0, -1)
    assert [json.loads(h)["delivery"] for h in held] == ["gone|1", "gone|2", "gone|3"]
    hold = await handle.client.hgetall(handle.keys.channel_hold("console:a:gone"))
    assert "invite" in hold["reason"] and hold["refusal"] == "channel"


async def test_a_held_channel_is_probed_and_released_in_order_once(handle: RedisHandle) -> None:
    recorder = Recorder()
    recorder.refuse["console:a:back"] = DeliveryFailed("missing", refusal=Refusal.CHANNEL)
    for n in range(3):
        await queue_story(handle, "console:a:back", f"s{n}")
    outbox = consumer(handle, recorder)
    outbox.probe_every = 3600
    await outbox.drain()
    assert recorder.sent == [] and recorder.told
    await outbox.drain()
    assert recorder.sent == [], "the probe is not due"
    holds = HoldStore(handle.client, handle.keys, ttl=3600)
    assert await holds.probe_now(["console:a:back", "console:a:never-held"]) == 1
    await outbox.drain()
    assert recorder.sent == [], "a probe that is refused again keeps the hold"
    assert len(recorder.told) == 1, "told once per hold"
    del recorder.refuse["console:a:back"]
    await holds.probe_now(["console:a:back"])
    await outbox.drain()
    assert recorder.sent == [f"console:a:back|story|s{n}" for n in range(3)]
    assert not await handle.client.exists(handle.keys.channel_hold("console:a:back"))
    assert not await handle.client.zcard(handle.keys.outbox_holds("console"))
    await queue(handle, "console:a:back", "back|3")
    await outbox.drain()
    assert recorder.sent[-1] == "back|3", "the hold is over: deliveries go straight out"


async def test_a_refused_message_goes_as_plain_text_and_blocks_nothing(
    handle: RedisHandle,
) -> None:
    recorder = Recorder()
    recorder.refuse_delivery["poison|1"] = DeliveryFailed("invalid_blocks", refusal=Refusal.MESSAGE)
    recorder.refuse_delivery["poison|2"] = DeliveryFailed("msg_too_long", refusal=Refusal.MESSAGE)
    recorder.refuse_plain.add("poison|2")
    await queue(handle, "console:a:1", "poison|1")
    await queue(handle, "console:a:1", "poison|2")
    await queue(handle, "console:a:1", "after|1")
    holds = HoldStore(handle.client, handle.keys, ttl=3600)
    assert await consumer(handle, recorder).drain() == 3
    assert recorder.plain == ["poison|1"]
    assert recorder.sent == ["after|1"], "nothing waits behind a refused message"
    dead = await holds.dead_letters("console")
    assert [d.delivery for d in dead] == ["poison|2"]
    assert "msg_too_long" in dead[0].reason and "plain text" in dead[0].reason


async def test_a_delivery_that_keeps_failing_is_dead_lettered_after_the_cap(
    handle: RedisHandle,
) -> None:
    recorder = Recorder()
    recorder.refuse_delivery["flaky|1"] = DeliveryFailed("Slack answered 500 internal_error")
    await queue(handle, "console:a:1", "flaky|1")
    await queue(handle, "console:a:1", "next|1")
    now = [1000.0]
    pacer = ChannelPacer(handle.client, handle.keys, 0.0, clock=lambda: now[0])
    outbox = consumer(handle, recorder, pacer)
    outbox.clock = lambda: now[0]
    outbox.max_attempts = 3
    for _attempt in range(3):
        assert await outbox.drain() == 0, "the channel waits behind a transient failure"
        now[0] += 1200  # past any backoff
    assert recorder.sent == []
    holds = HoldStore(handle.client, handle.keys, ttl=3600)
    assert await holds.dead_letters("console") == [], "3 attempts, but not an hour yet"
    assert await outbox.drain() == 2
    assert recorder.sent == ["next|1"]
    (dead,) = await holds.dead_letters("console")
    assert dead.delivery == "flaky|1" and dead.attempts == 4 and "500" in dead.reason


async def test_held_stories_are_released_grouped_by_the_flood_guard(handle: RedisHandle) -> None:
    recorder = Recorder()
    recorder.refuse["console:a:1"] = DeliveryFailed("gone", refusal=Refusal.GONE)
    for n in range(12):
        await queue_story(handle, "console:a:1", f"s{n}")
    outbox = consumer(handle, recorder)
    await outbox.drain()
    del recorder.refuse["console:a:1"]
    await HoldStore(handle.client, handle.keys, ttl=3600).probe_now(["console:a:1"])
    await outbox.drain()
    (burst,) = recorder.messages
    assert burst["kind"] == "digest" and burst["heading"].startswith("12 stories")
    assert json.loads(burst["stories"]) == [f"s{n}" for n in reversed(range(12))]


async def test_a_passing_refusal_stays_queued(handle: RedisHandle) -> None:
    recorder = Recorder()
    recorder.refuse["console:a:busy"] = DeliveryFailed("rate limited", retry_after=0.01)
    await queue(handle, "console:a:busy", "busy|1")
    assert await consumer(handle, recorder).drain() == 0
    assert await handle.client.xlen(handle.keys.outbox("console")) == 1
    del recorder.refuse["console:a:busy"]
    assert await consumer(handle, recorder).drain() == 1
    assert recorder.sent == ["busy|1"]


async def test_each_channel_is_paced_and_none_waits_for_another(handle: RedisHandle) -> None:
    recorder = Recorder()
    for n in range(3):
        await queue(handle, "console:a:busy", f"busy|{n}")
    await queue(handle, "console:a:calm", "calm|0")
    assert (
        await consumer(handle, recorder, ChannelPacer(handle.client, handle.keys, 0.3)).drain() == 4
    )
    busy = [recorder.times[f"busy|{n}"] for n in range(3)]
    assert [d for d in recorder.sent if d.startswith("busy")] == ["busy|0", "busy|1", "busy|2"]
    assert all(later - earlier >= 0.28 for earlier, later in itertools.pairwise(busy))
    assert recorder.times["calm|0"] < busy[1], "the calm channel did not queue behind the busy one"


async def test_two_processes_keep_one_pace_per_channel(
    handle: RedisHandle, settings: Settings
) -> None:
    recorder = Recorder()
    for n in range(4):
        await queue(handle, "console:a:shared", f"shared|{n}")
    async with open_redis(settings) as other:
        first, second = (
            consumer(h, recorder, ChannelPacer(h.client, h.keys, 0.3), name)
            for h, name in ((handle, "one"), (other, "two"))
        )
        await first.ensure_group()
        # Each process reads two of the channel's four deliveries, then both send at once.
        batches = []
        for outbox in (first, second):
            reply = await outbox.blocking.xreadgroup(
                "delivery", outbox.consumer, {outbox.stream: ">"}, count=2
            )
            batches.append([(str(i), f) for _s, found in reply for i, f in found])
        await asyncio.gather(
            *(o.deliver_batch(b) for o, b in zip((first, second), batches, strict=True))
        )
    times = sorted(recorder.times.values())
    assert len(times) == 4
    assert all(later - earlier >= 0.28 for earlier, later in itertools.pairwise(times))


async def test_a_429_holds_its_channel_for_retry_after_and_keeps_order(
    handle: RedisHandle,
) -> None:
    now = [1000.0]
    pacer = ChannelPacer(handle.client, handle.keys, 0.0, clock=lambda: now[0])
    recorder = Recorder()
    recorder.refuse["console:a:limited"] = DeliveryFailed("429 rate limited", retry_after=30)
    await queue(handle, "console:a:limited", "limited|1")
    await queue(handle, "console:a:limited", "limited|2")
    await queue(handle, "console:a:other", "other|1")
    outbox = consumer(handle, recorder, pacer)
    assert await outbox.drain() == 1
    assert recorder.sent == ["other|1"]
    del recorder.refuse["console:a:limited"]
    now[0] += 10
    assert await outbox.drain() == 0, "still inside Retry-After"
    now[0] += 21
    assert await outbox.drain() == 2
    assert recorder.sent == ["other|1", "limited|1", "limited|2"]


class SlowAndBroken(Recorder):
    """Channel `broken` loses its connection at once; the others take `slow` seconds."""

    def __init__(self, slow: float) -> None:
        super().__init__()
        self.slow = slow

    async def deliver(self, message: Mapping[str, str], *, plain: bool = False) -> None:
        if message["channel"].endswith("broken"):
            raise ConnectionResetError("connection reset by peer")
        await asyncio.sleep(self.slow)
        await super().deliver(message)


async def test_one_channels_error_never_doubles_another_channels_post(
    handle: RedisHandle,
) -> None:
    recorder = SlowAndBroken(slow=0.8)
    await queue(handle, "console:a:broken", "broken|1")
    await queue(handle, "console:a:fine", "fine|1")
    outbox = consumer(handle, recorder)
    outbox.block_ms = 50
    stop = asyncio.Event()
    task = asyncio.create_task(outbox.run(stop))
    await asyncio.sleep(2.5)
    stop.set()
    await asyncio.wait_for(task, timeout=5)
    assert recorder.sent == ["fine|1"]
    # The broken channel's delivery stays queued for a later try; nothing was lost.
    pending = await handle.client.xrange(handle.keys.outbox("console"))
    assert [f["delivery"] for _id, f in pending] == ["broken|1"]


async def test_a_message_sent_meanwhile_by_another_consumer_is_not_sent_again(
    handle: RedisHandle,
) -> None:
    """The record is checked again after the pacing wait, right before sending."""
    recorder = Recorder()
    await queue(handle, "console:a:1", "twice|1")
    outbox = consumer(handle, recorder, ChannelPacer(handle.client, handle.keys, 0.5))
    await ChannelPacer(handle.client, handle.keys, 0.5).wait("console:a:1")  # busy channel

    async def sent_elsewhere() -> None:
        await asyncio.sleep(0.1)  # while this consumer waits on the pace
        await handle.client.set(handle.keys.delivered(short_hash("twice|1")), "1")

    _, handled = await asyncio.gather(sent_elsewhere(), outbox.drain())
    assert handled == 1 and recorder.sent == []
    assert await handle.client.xlen(handle.keys.outbox("console")) == 0


async def test_a_held_channel_does_not_starve_another_channels_retry(
    handle: RedisHandle,
) -> None:
    recorder = Recorder()
    pacer = ChannelPacer(handle.client, handle.keys, 0.0)
    outbox = consumer(handle, recorder, pacer)
    await outbox.ensure_group()
    for n in range(60):
        await queue(handle, "console:a:held", f"held|{n}")
    await queue(handle, "console:a:other", "other|1")
    # All 61 were read once (now pending on this consumer), and a 429 held both channels.
    await handle.client.xreadgroup("delivery", "test", {handle.keys.outbox("console"): ">"})
    await pacer.hold("console:a:held", 30)
    await pacer.hold("console:a:other", 0.5)
    started = time.monotonic()
    stop = asyncio.Event()
    task = asyncio.create_task(outbox.run(stop))
    while "other|1" not in recorder.sent and time.monotonic() - started < 5:
        await asyncio.sleep(0.02)
    stop.set()
    await asyncio.wait_for(task, timeout=5)
    assert recorder.sent == ["other|1"]
    assert recorder.times["other|1"] - started < 2.0


async def test_a_dead_consumers_messages_are_taken_over_and_it_is_removed(
    handle: RedisHandle,
) -> None:
    recorder = Recorder()
    dead = consumer(handle, recorder, name="host-111")
    await dead.ensure_group()
    for n in range(3):
        await queue(handle, "console:a:1", f"stranded|{n}")
    # The old process read them (held by pacing, say) and was killed before delivering.
    await handle.client.xreadgroup("delivery", "host-111", {handle.keys.outbox("console"): ">"})
    successor = consumer(handle, recorder, name="host-222")
    successor.claim_idle = 0.2
    successor.block_ms = 20
    await asyncio.sleep(0.3)
    stop = asyncio.Event()
    task = asyncio.create_task(successor.run(stop))
    deadline = time.monotonic() + 5
    while len(recorder.sent) < 3 and time.monotonic() < deadline:
        await asyncio.sleep(0.02)
    await asyncio.sleep(2.5)  # the run's consumer clean-up comes after claim_idle x 10
    stop.set()
    await asyncio.wait_for(task, timeout=5)
    assert recorder.sent == ["stranded|0", "stranded|1", "stranded|2"]
    names = [c["name"] for c in await handle.client.xinfo_consumers(successor.stream, "delivery")]
    assert names == ["host-222"]


async def test_stop_hands_back_during_a_paced_backlog(handle: RedisHandle) -> None:
    recorder = Recorder()
    for n in range(30):
        await queue(handle, "console:a:1", f"backlog|{n}")
    outbox = consumer(handle, recorder, ChannelPacer(handle.client, handle.keys, 1.0))
    stop = asyncio.Event()
    task = asyncio.create_task(outbox.run(stop))
    await asyncio.sleep(1.5)
    stop.set()
    started = time.monotonic()
    await asyncio.wait_for(task, timeout=10)
    assert time.monotonic() - started < 3.0
    assert 1 <= len(recorder.sent) < 30
    assert await handle.client.xlen(handle.keys.outbox("console")) == 30 - len(recorder.sent)


class BrokenPipe(Recorder):
    async def deliver(self, message: Mapping[str, str], *, plain: bool = False) -> None:
        raise BrokenPipeError(32, "Broken pipe")


async def test_an_os_error_that_is_not_redis_is_not_called_a_redis_outage(
    handle: RedisHandle, caplog: pytest.LogCaptureFixture
) -> None:
    await queue(handle, "console:a:1", "pipe|1")
    caplog.set_level(logging.WARNING, logger="bot.roles.outbox")
    assert await consumer(handle, BrokenPipe()).drain() == 0
    messages = [r.getMessage() for r in caplog.records]
    assert "delivery failed unexpectedly; will retry" in messages
    assert not any("cannot reach Redis" in m for m in messages)
    assert await handle.client.xlen(handle.keys.outbox("console")) == 1, "still queued"


async def test_a_hold_a_crash_left_without_a_probe_gets_one(handle: RedisHandle) -> None:
    """A process died between a hold's start and its probe's: the next delivery held there,
    a `/news` command there, or the consumer's sweep gives it its probe back."""
    holds = HoldStore(handle.client, handle.keys, ttl=3600)
    first = {"delivery": "d0", "channel": "console:a:1", "kind": "notice", "text": "a"}
    for channel in ("console:a:1", "console:a:2"):
        await holds.start(
            channel, {**first, "channel": channel}, reason="r", refusal="channel", now=1, probe_at=5
        )
    await handle.client.delete(handle.keys.outbox_holds("console"))  # the crash
    await queue(handle, "console:a:1", "d1")
    await consumer(handle, Recorder()).drain()
    probes = handle.keys.outbox_holds("console")
    assert await handle.client.zscore(probes, "console:a:1") is not None, "by the next held one"
    assert await holds.probe_now(["console:a:2"]) == 1
    assert await handle.client.zscore(probes, "console:a:2") == 0, "by a command there"
