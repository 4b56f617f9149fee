"""The Feeds page: failing feeds first with their error in words, and stories a day."""

from __future__ import annotations

import re
import time

from bot.settings import Settings
from bot.store.connection import RedisHandle
from bot.store.ui_auth import OPERATOR, Scope
from bot.store.watchlist import Watchlist
from bot.web.feeds_page import DayCounts
from tests.bot.web.conftest import browser, serving, sign_in


async def test_the_operator_sees_failing_feeds_first_with_their_error_and_a_sparkline(
    settings: Settings, handle: RedisHandle
) -> None:
    now = time.time()
    watchlist = Watchlist(handle.client, handle.keys)
    good, _ = await watchlist.add("https://good.example.com/feed", now=now)
    bad, _ = await watchlist.add("https://bad.example.com/feed?token=s3cret", now=now)
    await handle.client.hset(
        handle.keys.feed(good.id), mapping={"last_fetch": now - 60, "title": "Good News"}
    )
    await handle.client.hset(
        handle.keys.feed(bad.id),
        mapping={
            "last_fetch": now - 120,
            "failures": 3,
            "failing_since": now - 7200,
            "last_error": "HTTP 503 <script>alert(1)</script>",
        },
    )
    stories = {f"s{n}": now - n * 86400 - 60 for n in range(5)} | {"t1": now - 100}
    await handle.client.zadd(handle.keys.feed_stories(good.id), stories)
    async with serving(settings, handle) as base, browser() as session:
        async with session.get(f"{base}/ui/feeds") as anonymous:
            assert anonymous.status == 401
        await sign_in(session, base, handle, OPERATOR)
        async with session.get(f"{base}/ui/feeds") as page:
            html = await page.text()
            assert page.status == 200
    rows = re.findall(r"<tr class=\"[^\"]*\">(.*?)</tr>", html, re.DOTALL)
    assert len(rows) == 2 and "bad.example.com" in rows[0], "failing first"
    assert "failing since 2h ago" in rows[0] and "HTTP 503 &lt;script&gt;" in rows[0]
    assert "s3cret" not in html, "addresses are shown masked"
    assert "Good News" in rows[1]
    assert "6 stories in 14 days" in rows[1]
    points = re.search(r'<polyline points="([^"]+)"', rows[1])
    assert points and len(points[1].split()) == 14
    assert "1 failing" in html


async def test_a_member_whose_platform_says_nothing_sees_no_feed(
    settings: Settings, handle: RedisHandle
) -> None:
    """No Slack here to ask who manages what: a member's session sees nothing."""
    await Watchlist(handle.client, handle.keys).add("https://w.example.com/f", now=time.time())
    async with serving(settings, handle) as base, browser() as session:
        await sign_in(session, base, handle, Scope("slack", "T1", "U1"))
        async with session.get(f"{base}/ui/feeds") as page:
            html = await page.text()
    assert page.status == 200 and "0 watched" in html and "w.example.com" not in html


async def test_past_days_are_counted_once_an_hour_and_today_on_every_page(
    handle: RedisHandle,
) -> None:
    now = 1_764_000_000.0 + 12 * 3600  # midday, UTC
    key = handle.keys.feed_stories("f1")
    await handle.client.zadd(key, {"a": now - 86400, "b": now - 86400 - 60, "c": now - 60})
    await handle.client.zadd(key, {"old": now - 20 * 86400})  # before the 14 days
    counts = DayCounts(handle.client, handle.keys)
    first = (await counts.counts(["f1", "f2"], now))["f1"]
    assert len(first) == 14 and first[-2:] == (2, 1) and sum(first) == 3
    await handle.client.zadd(key, {"late": now - 3 * 86400, "new": now - 30})
    again = (await counts.counts(["f1"], now + 60))["f1"]
    assert again[-1] == 2, "today is read on every page"
    assert sum(again) == 4, "a past day is kept for the hour"
    later = (await counts.counts(["f1"], now + 2 * 3600))["f1"]
    assert sum(later) == 5 and later[-4] == 1
