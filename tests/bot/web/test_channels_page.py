"""The Channels page: each channel's subscriptions and settings, its next digest, and
what is stuck (held, dead-lettered), escaped."""

from __future__ import annotations

import asyncio
import re
import time
from pathlib import Path

from bot.app import RunningBot
from bot.settings import Settings
from bot.store.connection import RedisHandle
from bot.store.holds import HoldStore
from bot.store.subscriptions import SubscriptionStore
from bot.store.ui_auth import OPERATOR, Scope, UiAuth
from bot.store.watchlist import Watchlist
from handlers.channels import ChannelRef
from tests.bot.platforms.outbox_helpers import hold
from tests.bot.platforms.slack_adapter.conftest import slack  # noqa: F401 (the fixture)
from tests.bot.platforms.slack_adapter.test_http_mode import with_bot
from tests.bot.web.conftest import browser, serving, sign_in
from tests.fakes.slack_api import FakeSlack

NEWS = ChannelRef("slack", "T1", "CNEWS")
QUIET = ChannelRef("discord", "800", "810")


async def test_the_operator_sees_every_channels_settings_and_what_is_stuck(
    settings: Settings, handle: RedisHandle
) -> None:
    now = time.time()
    watchlist = Watchlist(handle.client, handle.keys)
    store = SubscriptionStore(handle.client, handle.keys)
    wire, _ = await watchlist.add("https://wire.example.com/feed", now=now, title="Wire")
    intranet, _ = await watchlist.add("https://in.example.com/feed?key=s3cret", now=now)
    await store.subscribe(NEWS, wire.id, now=now, mode="instant", filter="harbour -<b>sport</b>")
    await store.subscribe(NEWS, intranet.id, now=now, priority=2)
    await store.set_channel(NEWS, schedule="weekdays 08:30", quiet_message="<i>Nothing</i> today")
    await store.set_options(NEWS, {"style": "compact", "breaking": "3 30", "rank": "coverage"})
    await store.set_visibility(NEWS, public=True)
    await store.subscribe(QUIET, wire.id, now=now)
    await handle.client.zadd(handle.keys.digests_due, {str(NEWS): now + 3600})
    await hold(handle, str(QUIET), reason="Missing Permissions: Send Messages")
    await HoldStore(handle.client, handle.keys, ttl=86400).dead_letter(
        {"delivery": "d1", "channel": str(NEWS), "kind": "story", "story": "s1"},
        reason="invalid_blocks <x>",
        attempts=3,
        now=now,
    )
    async with serving(settings, handle) as base, browser() as session:
        await sign_in(session, base, handle, OPERATOR)
        async with session.get(f"{base}/ui/channels") as page:
            assert page.status == 200
            html = await page.text()
        await session.post(
            f"{base}/ui/logout", data={"csrf": re.findall(r'name="csrf" value="([^"]+)"', html)[0]}
        )
        await sign_in(session, base, handle, Scope("slack", "T1", "U1"))
        async with session.get(f"{base}/ui/channels") as none:
            assert "0 channels" in await none.text(), "no platform here says they manage any"
    sections = {
        part[part.index('id="') + 4 : part.index('">')]: part
        for part in html.split('<section class="channel">')[1:]
    }
    news = sections[str(NEWS)]
    assert "(public)" in news and "weekdays 08:30" in news and "next digest" in news
    assert "compact" in news and "3 outlets within 30 minutes" in news and "coverage" in news
    assert "&lt;i&gt;Nothing&lt;/i&gt; today" in news and "<i>" not in news
    assert "harbour -&lt;b&gt;sport&lt;/b&gt;" in news and "instant" in news
    assert "s3cret" not in html and "Wire" in news
    assert "invalid_blocks &lt;x&gt;" in news and "3 attempts" in news
    quiet = sections[str(QUIET)]
    assert "Held: Missing Permissions: Send Messages" in quiet and "(unknown)" in quiet


async def test_a_dead_letter_is_retried_or_dropped_with_the_csrf_token_only(
    settings: Settings, handle: RedisHandle
) -> None:
    holds = HoldStore(handle.client, handle.keys, ttl=86400)
    for delivery in ("d1", "d2"):
        await holds.dead_letter(
            {"delivery": delivery, "channel": str(NEWS), "kind": "story", "story": delivery},
            reason="invalid_blocks",
            attempts=3,
            now=time.time(),
        )
    await SubscriptionStore(handle.client, handle.keys).set_channel(NEWS, schedule="off")
    first, second = await holds.dead_letters("slack")
    async with serving(settings, handle) as base, browser() as session:
        await sign_in(session, base, handle, OPERATOR)
        async with session.get(f"{base}/ui/channels") as page:
            csrf = re.findall(r'name="csrf" value="([^"]+)"', await page.text())[0]

        async def act(letter: str, action: str, token: str, channel: str = str(NEWS)) -> int:
            form = {"csrf": token, "channel": channel, "id": letter, "action": action}
            async with session.post(f"{base}/ui/dead-letter", data=form) as answer:
                return answer.status

        assert await act(first.id, "retry", "forged") == 403
        assert len(await holds.dead_letters("slack")) == 2, "a forged form changes nothing"
        assert await act(first.id, "retry", csrf, channel=str(QUIET)) == 404, "not its channel"
        assert await act(first.id, "retry", csrf) == 200  # followed to the Channels page
        assert await act(second.id, "drop", csrf) == 200
        assert await act(second.id, "drop", csrf) == 404, "gone"
    assert await holds.dead_letters("slack") == []
    queued = await handle.client.xrange(handle.keys.outbox("slack"))
    assert [fields["delivery"] for _id, fields in queued] == ["d1"], "retried: queued again"


async def test_a_subscription_is_paused_and_resumed_from_the_page(
    settings: Settings, handle: RedisHandle
) -> None:
    store = SubscriptionStore(handle.client, handle.keys)
    await store.subscribe(NEWS, "f1", now=1, mode="instant")
    async with serving(settings, handle) as base, browser() as session:
        await sign_in(session, base, handle, OPERATOR)
        async with session.get(f"{base}/ui/channels") as page:
            html = await page.text()
            assert 'value="pause">Pause' in html
            csrf = re.findall(r'name="csrf" value="([^"]+)"', html)[0]
        form = {"csrf": csrf, "channel": str(NEWS), "feed": "f1", "action": "pause"}
        async with session.post(f"{base}/ui/subscription", data=form) as paused:
            assert paused.status == 200 and 'value="resume">Resume' in await paused.text()
        sub = await store.get(NEWS, "f1")
        assert sub is not None and sub.paused and sub.mode == "instant"
        async with session.post(
            f"{base}/ui/subscription", data={**form, "csrf": "forged", "action": "resume"}
        ) as forged:
            assert forged.status == 403
        async with session.post(f"{base}/ui/subscription", data={**form, "feed": "f9"}) as gone:
            assert gone.status == 404
        async with session.post(
            f"{base}/ui/subscription", data={**form, "action": "resume"}
        ) as resumed:
            assert resumed.status == 200
    sub = await store.get(NEWS, "f1")
    assert sub is not None and not sub.paused


async def test_a_dead_letter_retried_from_the_page_is_delivered_on_slack(
    settings: Settings,
    tmp_path: Path,
    slack: FakeSlack,  # noqa: F811
) -> None:
    """The whole way: a running bot, its page, and the fake Slack receiving the retry."""

    async def exercise(bot: RunningBot, _events: str) -> None:
        base = f"http://127.0.0.1:{bot.http_port}"
        holds = HoldStore(bot.handle.client, bot.handle.keys, ttl=86400)
        letter = {
            "delivery": "feed-down|f1",
            "channel": "slack:T1:C1",
            "kind": "notice",
            "text": "A retried notice",
        }
        await holds.dead_letter(letter, reason="invalid_blocks", attempts=5, now=time.time())
        # A channel newsbot knows (it has settings), so the page lists it.
        await SubscriptionStore(bot.handle.client, bot.handle.keys).set_channel(
            ChannelRef.parse("slack:T1:C1"), quiet_message="x"
        )
        async with browser() as session:
            token = await UiAuth(bot.handle.client, bot.handle.keys).issue(OPERATOR)
            await session.post(f"{base}/ui/login", data={"t": token})
            async with session.get(f"{base}/ui/channels") as page:
                html = await page.text()
            csrf = re.findall(r'name="csrf" value="([^"]+)"', html)[0]
            [dead] = await holds.dead_letters("slack")
            form = {"csrf": csrf, "channel": "slack:T1:C1", "id": dead.id, "action": "retry"}
            async with session.post(f"{base}/ui/dead-letter", data=form) as retried:
                assert retried.status == 200
        for _ in range(200):
            if any("A retried notice" in str(p.get("text")) for p in slack.accepted_posts("C1")):
                break
            await asyncio.sleep(0.05)
        else:
            raise AssertionError("the retried letter was not delivered")

    await with_bot(settings, tmp_path, slack, exercise)
