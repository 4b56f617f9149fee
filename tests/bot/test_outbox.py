"""The outbox: each delivery once, refusals retried or recorded, other channels unblocked."""

from __future__ import annotations

from collections.abc import Mapping

from bot.outbox import DeliveryFailed, OutboxConsumer
from bot.redis_conn import RedisHandle


class Recorder:
    """A deliverer that records what it sends and refuses what it is told to."""

    platform = "console"

    def __init__(self) -> None:
        self.sent: list[str] = []
        self.refuse: dict[str, DeliveryFailed] = {}

    async def deliver(self, message: Mapping[str, str]) -> None:
        if message["channel"] in self.refuse:
            raise self.refuse[message["channel"]]
        self.sent.append(message["delivery"])


def consumer(handle: RedisHandle, deliverer: Recorder) -> OutboxConsumer:
    return OutboxConsumer(
        client=handle.client,
        blocking=handle.blocking,
        keys=handle.keys,
        deliverer=deliverer,
        consumer="test",
        ttl=3600,
        block_ms=10,
    )


async def queue(handle: RedisHandle, channel: str, delivery: str) -> None:
    await handle.client.xadd(
        handle.keys.outbox("console"),
        {"delivery": delivery, "channel": channel, "kind": "quiet", "text": "hi"},
    )


async def test_a_delivery_id_is_sent_once(handle: RedisHandle) -> None:
    recorder = Recorder()
    await queue(handle, "console:a:1", "console:a:1|digest|100")
    await queue(handle, "console:a:1", "console:a:1|digest|100")  # re-queued after a crash
    await queue(handle, "console:a:1", "console:a:1|digest|200")
    assert await consumer(handle, recorder).drain() == 3
    assert recorder.sent == ["console:a:1|digest|100", "console:a:1|digest|200"]
    assert await handle.client.xlen(handle.keys.outbox("console")) == 0


async def test_a_channel_that_fails_for_good_is_recorded_and_others_go_on(
    handle: RedisHandle,
) -> None:
    recorder = Recorder()
    recorder.refuse["console:a:gone"] = DeliveryFailed(
        "not_in_channel: /invite @newsbot", permanent=True
    )
    await queue(handle, "console:a:gone", "gone|1")
    await queue(handle, "console:a:ok", "ok|1")
    assert await consumer(handle, recorder).drain() == 2
    assert recorder.sent == ["ok|1"]
    assert "invite" in await handle.client.hget(handle.keys.channel("console:a:gone"), "failed")


async def test_a_passing_refusal_stays_queued(handle: RedisHandle) -> None:
    recorder = Recorder()
    recorder.refuse["console:a:busy"] = DeliveryFailed("rate limited", retry_after=0.01)
    await queue(handle, "console:a:busy", "busy|1")
    assert await consumer(handle, recorder).drain() == 0
    assert await handle.client.xlen(handle.keys.outbox("console")) == 1
    del recorder.refuse["console:a:busy"]
    assert await consumer(handle, recorder).drain() == 1
    assert recorder.sent == ["busy|1"]
