"""Slack deliveries through the real slack_sdk client and the outbox, against a fake Web API
that checks every call against the vendor's spec and the Block Kit limits."""

from __future__ import annotations

import asyncio
import itertools
import json
import time

import pytest

from bot.platforms.slack_adapter.deliverer import SlackDeliverer
from bot.platforms.slack_adapter.web_api import SlackApis
from bot.settings import Settings
from bot.store.alerts import AlertStore, Match
from bot.store.connection import RedisHandle
from bot.store.holds import HoldStore
from bot.store.subscriptions import SubscriptionStore
from handlers.channels import ChannelRef
from tests.bot.platforms.outbox_helpers import consumer, follow, queue, stories
from tests.conftest import make_settings
from tests.fakes.slack_api import FakeSlack

CHANNEL = "slack:T1:C1"


def slack_settings(settings: Settings, fake: FakeSlack, tmp_path) -> Settings:  # type: ignore[no-untyped-def]
    return make_settings(
        tmp_path,
        NEWSBOT_REDIS_URL=settings.redis_url.reveal() if settings.redis_url else "",
        SLACK_BOT_TOKEN="xoxb-test",
        NEWSBOT_SLACK_API_URL=fake.api_url,
    )


@pytest.fixture
async def deliverer(
    slack: FakeSlack, settings: Settings, handle: RedisHandle, tmp_path
) -> SlackDeliverer:  # type: ignore[no-untyped-def]
    apis = SlackApis.of(slack_settings(settings, slack, tmp_path))
    return SlackDeliverer(apis=apis, client=handle.client, keys=handle.keys)


async def test_a_digest_and_a_story_are_posted_with_blocks_and_a_fallback(
    slack: FakeSlack, deliverer: SlackDeliverer, handle: RedisHandle
) -> None:
    first, second = await stories(handle, ["Harbour bridge reopens", "Comet visible tonight"])
    await queue(
        handle,
        CHANNEL,
        "d1",
        kind="digest",
        heading="News digest, Fri 27 Nov",
        stories=json.dumps([first, second]),
        more="0",
    )
    await queue(handle, "slack:T1:C2", "s1", kind="story", story=first)
    assert await consumer(handle, deliverer).drain() == 2
    [digest] = slack.posts("C1")
    [story] = slack.posts("C2")
    assert "Harbour bridge reopens" in json.dumps(digest["blocks"])
    assert digest["text"].startswith("News digest, Fri 27 Nov")
    assert story["unfurl_links"] is False and story["unfurl_media"] is False


async def test_a_feed_title_cannot_mention_anyone(
    slack: FakeSlack, deliverer: SlackDeliverer, handle: RedisHandle
) -> None:
    # As a feed carries it: the text "<!channel> <@U123> & <b>", entity-encoded.
    [story] = await stories(handle, ["&lt;!channel&gt; &lt;@U123&gt; &amp; &lt;b&gt;"])
    await queue(handle, CHANNEL, "s1", kind="story", story=story)
    assert await consumer(handle, deliverer).drain() == 1
    [post] = slack.posts("C1")
    shown = json.dumps(post["blocks"]) + post["text"]
    assert "<!channel>" not in shown and "<@U123>" not in shown
    assert "&lt;!channel&gt; &lt;@U123&gt; &amp; &lt;b&gt;" in json.dumps(post["blocks"])


async def test_a_429_storm_loses_nothing_doubles_nothing_and_keeps_the_pace(
    slack: FakeSlack, deliverer: SlackDeliverer, handle: RedisHandle
) -> None:
    slack.rate_limits["chat.postMessage"] = 3
    slack.retry_after = 0.3
    for n in range(4):
        await queue(handle, CHANNEL, f"q{n}", kind="quiet", text=f"message {n}")
    outbox = consumer(handle, deliverer, pace=0.2)
    stop = asyncio.Event()
    task = asyncio.create_task(outbox.run(stop))
    deadline = time.monotonic() + 15
    while len([p for p in slack.posts("C1")]) < 4 + 3 and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    await asyncio.sleep(0.5)
    stop.set()
    await asyncio.wait_for(task, timeout=5)
    accepted = [c for c in slack.calls if c.method == "chat.postMessage"][3:]
    assert [c.params["text"] for c in accepted] == [f"message {n}" for n in range(4)]
    gaps = [later.at - earlier.at for earlier, later in itertools.pairwise(accepted)]
    assert min(gaps) >= 0.1, f"the channel's pace (0.2 s, less jitter) was kept: {gaps}"
    assert await handle.client.xlen(handle.keys.outbox("slack")) == 0


@pytest.mark.parametrize("error", ["not_in_channel", "restricted_action", "is_archived"])
async def test_a_channel_that_refuses_is_held_with_the_reason(
    slack: FakeSlack, deliverer: SlackDeliverer, handle: RedisHandle, error: str
) -> None:
    slack.channel_errors["C9"] = error
    await queue(handle, "slack:T1:C9", "q1", kind="quiet", text="hello")
    await queue(handle, CHANNEL, "q2", kind="quiet", text="hello")
    assert await consumer(handle, deliverer).drain() == 2
    hold = await HoldStore(handle.client, handle.keys, ttl=60).holds(["slack:T1:C9"])
    assert error in hold["slack:T1:C9"].reason and hold["slack:T1:C9"].waiting == 1
    if error == "not_in_channel":
        assert "/invite @newsbot" in hold["slack:T1:C9"].reason
    assert [p["text"] for p in slack.posts("C1")] == ["hello"]


async def test_invalid_blocks_go_out_once_as_plain_text(
    slack: FakeSlack, deliverer: SlackDeliverer, handle: RedisHandle
) -> None:
    slack.refuse_blocks.add("C1")
    ids = await stories(handle, ["Harbour bridge reopens", "Storm closes the coast road"])
    await queue(handle, CHANNEL, "d1", kind="digest", heading="Digest", stories=json.dumps(ids))
    await queue(handle, CHANNEL, "q1", kind="quiet", text="after")
    assert await consumer(handle, deliverer).drain() == 2
    refused, plain, after = slack.posts("C1")
    assert refused["blocks"] and "blocks" not in plain and "Harbour bridge reopens" in plain["text"]
    assert after["text"] == "after", "the refused message held nothing up"


async def test_a_refused_token_holds_everything_until_it_works(
    slack: FakeSlack, deliverer: SlackDeliverer, handle: RedisHandle
) -> None:
    slack.revoked = True
    await queue(handle, CHANNEL, "q1", kind="quiet", text="waiting")
    outbox = consumer(handle, deliverer)
    assert await outbox.drain() == 0
    assert not deliverer.token_works() and deliverer.token_error == "token_revoked"
    assert await outbox.drain() == 0
    assert len(slack.posts()) == 1, "no more posts while the token is refused"
    slack.revoked = False
    deliverer._token_checked = -1000.0  # a minute later
    await handle.client.delete(handle.keys.pace(CHANNEL))  # and the channel's hold is over
    assert await outbox.drain() == 1
    assert deliverer.token_works() and [p["text"] for p in slack.posts()][-1] == "waiting"


async def test_a_part_that_fails_is_sent_again_alone(
    slack: FakeSlack, deliverer: SlackDeliverer, handle: RedisHandle
) -> None:
    ids = await stories(handle, [f"Story number {n} with a title" for n in range(30)])
    await queue(
        handle,
        CHANNEL,
        "big",
        kind="digest",
        heading="Digest",
        stories=json.dumps(ids),
        more="0",
    )
    outbox = consumer(handle, deliverer)
    # Slack takes the first part, then fails the second.
    original = slack._answer

    def second_fails(method, params, team):  # type: ignore[no-untyped-def]
        if method == "chat.postMessage" and len(slack.posts()) == 2 and not slack.fail_posts:
            slack.fail_posts = 1
        return original(method, params, team)

    slack._answer = second_fails  # type: ignore[method-assign]
    assert await outbox.drain() == 0
    slack._answer = original  # type: ignore[method-assign]
    await handle.client.delete(handle.keys.pace(CHANNEL))
    assert await outbox.drain() == 1
    texts = [p["text"] for p in slack.posts()]
    assert texts == [
        "Digest (30 stories, part 1 of 2)",
        "Digest (30 stories, part 2 of 2)",
        "Digest (30 stories, part 2 of 2)",
    ]


async def test_a_retry_sends_the_stored_parts_even_when_the_stories_changed(
    slack: FakeSlack, deliverer: SlackDeliverer, handle: RedisHandle
) -> None:
    """Issue #21: parts are rendered once. Re-rendering on the retry would shift the split
    (here: half the stories expired meanwhile, so part 2 would come out empty)."""
    ids = await stories(handle, [f"Story number {n} with a title" for n in range(30)])
    await queue(handle, CHANNEL, "big", kind="digest", heading="Digest", stories=json.dumps(ids))
    slack.fail_posts = 0
    original = slack._answer

    def second_fails(method, params, team):  # type: ignore[no-untyped-def]
        if method == "chat.postMessage" and len(slack.posts()) == 2:
            return {"ok": False, "error": "internal_error"}
        return original(method, params, team)

    slack._answer = second_fails  # type: ignore[method-assign]
    outbox = consumer(handle, deliverer)
    assert await outbox.drain() == 0
    slack._answer = original  # type: ignore[method-assign]
    first_try = slack.posts()[1]
    await handle.client.delete(*(handle.keys.story(i) for i in ids[:20]))
    await handle.client.delete(handle.keys.pace(CHANNEL))
    assert await outbox.drain() == 1
    assert slack.posts()[2] == first_try, "the stored part 2, as first rendered"
    assert len(slack.posts()) == 3


async def test_the_subscriber_is_told_once_by_dm_when_the_bot_is_not_in_the_channel(
    slack: FakeSlack, deliverer: SlackDeliverer, handle: RedisHandle
) -> None:
    channel = ChannelRef.parse("slack:T1:C9")
    await SubscriptionStore(handle.client, handle.keys).subscribe(
        channel, "f1", now=1, added_by="U123"
    )
    slack.channel_errors["C9"] = "not_in_channel"
    for n in range(2):
        await queue(handle, str(channel), f"q{n}", kind="quiet", text="hello")
    assert await consumer(handle, deliverer).drain() == 2
    ephemeral = [c for c in slack.calls if c.method == "chat.postEphemeral"]
    assert len(ephemeral) == 1 and ephemeral[0].params["user"] == "U123"
    [dm] = slack.posts("DU123")
    assert "/invite @newsbot" in dm["text"] and "<#C9>" in dm["text"]
    assert "held" in dm["text"], "the note says what happens to the channel's stories"
    # It works again (a probe releases the hold), then fails again: told again.
    del slack.channel_errors["C9"]
    await HoldStore(handle.client, handle.keys, ttl=60).probe_now([str(channel)])
    await handle.client.delete(handle.keys.pace(str(channel)))
    await consumer(handle, deliverer).drain()
    # The refused try, then the held quiet messages, once (two were held: one repeats).
    assert [p["text"] for p in slack.posts("C9")] == ["hello", "hello"]
    slack.channel_errors["C9"] = "not_in_channel"
    await queue(handle, str(channel), "q3", kind="quiet", text="gone")
    await handle.client.delete(handle.keys.pace(str(channel)))
    assert await consumer(handle, deliverer).drain() == 1
    assert len(slack.posts("DU123")) == 2


async def alert_dm(handle: RedisHandle, user: str, titles: list[str], query: str) -> None:
    """An alert made in C1 by `user`, and a DM of its matches queued as the pipeline does."""
    store = AlertStore(handle.client, handle.keys)
    made = await store.add(
        origin=ChannelRef.parse(CHANNEL), user=user, query=query, channel=None, limit=25, now=1
    )
    found = await stories(handle, titles)
    await follow(handle, CHANNEL)  # a public channel: the alert may see its feed
    for story in found:
        await store.queue(made, Match(made.id, story, (query,)), now=1000.0)


async def test_an_alert_dm_highlights_the_matched_words_and_mentions_no_one(
    slack: FakeSlack, deliverer: SlackDeliverer, handle: RedisHandle
) -> None:
    # As a feed carries it: the text "<!channel> Storm hits the coast", entity-encoded.
    await alert_dm(handle, "U7", ["&lt;!channel&gt; Storm hits the coast"], "storm")
    assert await consumer(handle, deliverer).drain() == 1
    [dm] = slack.posts("DU7")
    shown = json.dumps(dm["blocks"])
    assert "*storm*" in shown.lower() and "alert a1" in shown
    assert "<!channel>" not in shown and "&lt;!channel&gt;" in shown


async def test_a_member_whose_dms_are_closed_is_told_once_and_their_alerts_pause(
    slack: FakeSlack, deliverer: SlackDeliverer, handle: RedisHandle
) -> None:
    slack.closed_dms.add("U7")
    await alert_dm(handle, "U7", ["Storm hits the coast"], "storm")
    await alert_dm(handle, "U7", ["Storm passes the coast"], "storm")
    await AlertStore(handle.client, handle.keys).flush_due(10_000.0)
    assert await consumer(handle, deliverer).drain() == 2
    notes = [c.params for c in slack.calls if c.method == "chat.postEphemeral"]
    assert len(notes) == 1 and notes[0]["user"] == "U7" and notes[0]["channel"] == "C1"
    assert "/news alert resume" in notes[0]["text"]
    store = AlertStore(handle.client, handle.keys)
    assert await store.pause_state("slack", "U7", 0) == "closed"
    assert await handle.client.hexists(handle.keys.dm_closed("slack"), "U7")
    assert slack.posts("DU7") == []
