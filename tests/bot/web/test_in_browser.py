"""The managers' page in a real browser (Debian's Chromium, driven by Playwright), on a
running bot whose Slack is the fake one: the link from `/news dashboard`, the pages, the
actions, what is refused, console errors and accessibility."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from playwright.async_api import Browser, Dialog, Page, expect

from bot.app import RunningBot
from bot.settings import Settings
from bot.store.holds import HoldStore
from bot.store.subscriptions import SubscriptionStore
from bot.store.ui_auth import Scope, UiAuth
from bot.store.watchlist import Watchlist
from handlers.channels import ChannelRef
from tests.articles import rss
from tests.bot.platforms.slack_adapter.conftest import (  # noqa: F401 (the fixture)
    post,
    signed,
    slack,
    slash,
    wait_for_responses,
)
from tests.bot.platforms.slack_adapter.test_http_mode import with_bot
from tests.bot.test_app import wait_for
from tests.bot.web.chromium import chromium, console_problems, serious_violations
from tests.fakes.feed_server import FeedServer
from tests.fakes.slack_api import FakeSlack

NEWS = ChannelRef("slack", "T1", "C1")
FAR = ChannelRef("slack", "T2", "CFAR")  # another workspace's channel
SCREENSHOT = Path(__file__).resolve().parents[3] / "docs" / "dashboard.png"


TITLES = [
    "Harbour bridge reopens after two years of repairs",
    "Comet visible tonight for the first time in 80 years",
    "City council votes to extend the night bus network",
    "Ferry timetable changes for the winter season",
    "New library opens its doors in the old post office",
    "Marathon route announced for the spring race",
    "Storm warning lifted as winds ease along the coast",
    "Local bakery wins national bread award",
    "Museum extends opening hours for the festival",
    "Tram line upgrade to finish a month early",
]
# Days ago each story came out: a few a day over two weeks, for the page's sparkline.
DAYS_AGO = [0, 0, 1, 2, 2, 4, 6, 7, 9, 12]


def wire_feed() -> str:
    now = datetime.now(UTC)
    return rss(
        "Harbour Wire",
        [
            {
                "title": title,
                "link": f"https://wire.example.com/{number}",
                "guid": f"wire-{number}",
                "published": now - timedelta(days=days, minutes=10 * number),
                "description": f"{title}. More in the full story.",
            }
            for number, (title, days) in enumerate(zip(TITLES, DAYS_AGO, strict=True))
        ],
    )


async def link_from_chat(slack: FakeSlack, events: str) -> str:  # noqa: F811
    """`/news dashboard` from the workspace's admin, as Slack posts it; the link in the
    ephemeral answer."""
    answered = len(slack.responses)
    body = slash("dashboard", slack)
    status, _ack = await post(events, body, signed(body))
    assert status == 200
    await wait_for_responses(slack, answered + 1)
    reply = slack.responses[answered]
    assert reply["response_type"] == "ephemeral" and reply["unfurl_links"] is False
    return str(reply["text"]).rsplit(" ", 1)[1]


async def open_tab(page: Page, name: str) -> None:
    await page.get_by_role("navigation").get_by_role("link", name=name).click()
    await expect(page.get_by_role("heading", level=1)).to_have_text(name)


async def sign_in(page: Page, link: str) -> None:
    await page.goto(link)
    await expect(page).to_have_title("Sign in to newsbot")
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("newsbot")


async def test_a_manager_works_the_page_from_a_chat_link(
    settings: Settings,
    tmp_path: Path,
    slack: FakeSlack,  # noqa: F811
    feed_server: FeedServer,
    request: pytest.FixtureRequest,
) -> None:
    wire = feed_server.add("/wire.xml", wire_feed())
    down = feed_server.add("/down.xml", "Service Unavailable", status=503)

    async def exercise(bot: RunningBot, events: str) -> None:
        base = f"http://127.0.0.1:{bot.http_port}"
        client, keys = bot.handle.client, bot.handle.keys
        now = time.time()
        watchlist, store = Watchlist(client, keys), SubscriptionStore(client, keys)
        feeds = {url: (await watchlist.add(url, now=now))[0].id for url in (wire, down)}
        for feed in feeds.values():
            await store.subscribe(NEWS, feed, now=now)
        await store.subscribe(FAR, feeds[wire], now=now)
        holds = HoldStore(client, keys, ttl=86400)
        for number in (1, 2):
            letter = {
                "delivery": f"notice-{number}",
                "channel": str(NEWS),
                "kind": "notice",
                "text": f"A dead-lettered notice {number}",
            }
            await holds.dead_letter(letter, reason="invalid_blocks", attempts=5, now=now)

        async def fetched() -> bool:
            failing = await client.hget(keys.feed(feeds[down]), "failures")
            stories = await client.zcard(keys.feed_stories(feeds[wire]))
            return bool(failing) and stories == len(TITLES)

        await wait_for(fetched, what="the bot fetched both feeds")
        link = await link_from_chat(slack, events)

        async with chromium() as browser:
            page = await (await browser.new_context()).new_page()
            problems = console_problems(page)
            await sign_in(page, link)

            # Feeds: the failing one first, with its error in words.
            await open_tab(page, "Feeds")
            rows = page.locator("tbody tr")
            await expect(rows).to_have_count(2)
            await expect(rows.first).to_have_class("failing")
            await expect(rows.first).to_contain_text("/down.xml")
            await expect(rows.first).to_contain_text("503")
            await expect(rows.nth(1)).to_contain_text("Harbour Wire")
            if request.config.getoption("--write-screenshot"):
                await page.set_viewport_size({"width": 1100, "height": 400})
                await page.screenshot(path=str(SCREENSHOT), full_page=True)

            # Channels: this workspace's channel only, with its subscriptions.
            await open_tab(page, "Channels")
            sections = page.locator("section.channel")
            await expect(sections).to_have_count(1)
            news = sections.first
            await expect(news.get_by_role("heading", level=2)).to_contain_text(str(NEWS))
            await expect(news.locator("tbody tr")).to_have_count(2)
            await expect(news).to_contain_text("Harbour Wire")

            # Stories: pick the channel (the select submits itself), then search.
            await open_tab(page, "Stories")
            await page.get_by_label("Channel").select_option(str(NEWS))
            await expect(page.locator("article.story").first).to_contain_text("Harbour bridge")
            await page.get_by_label("Search").fill("comet")
            await page.get_by_role("button", name="Show").click()
            await expect(page.locator("article.story")).to_have_count(1)
            await expect(page.locator("article.story")).to_contain_text("Comet visible tonight")

            # Retry one dead letter (delivered on Slack), drop the other after confirming.
            await open_tab(page, "Channels")
            letters = page.locator("section.channel li")
            await expect(letters).to_have_count(2)
            await letters.first.get_by_role("button", name="Retry").click()
            await expect(page.locator("section.channel li")).to_have_count(1)

            async def delivered() -> bool:
                return any(
                    "A dead-lettered notice" in str(post.get("text"))
                    for post in slack.accepted_posts("C1")
                )

            await wait_for(delivered, what="the retried letter reached Slack")
            refused: list[str] = []

            async def answer(dialog: Dialog) -> None:
                refused.append(dialog.message)
                await dialog.accept()

            page.once("dialog", answer)
            await page.get_by_role("button", name="Drop").click()
            await expect(page.locator("section.channel li")).to_have_count(0)
            assert refused and "never be delivered" in refused[0], "the drop asked first"
            assert await holds.dead_letters("slack") == []
            assert problems == [], "the pages logged no error"

            # Another workspace's channel, by URL: not shown.
            await page.goto(f"{base}/ui/stories?channel={FAR}")
            await expect(page.locator("p.error")).to_contain_text(
                "not one of the channels you manage"
            )
            await expect(page.locator("article.story")).to_have_count(0)

            # A forged CSRF token: refused, and the subscription stays on.
            await page.goto(f"{base}/ui/channels")
            await page.locator("input[name=csrf]").evaluate_all(
                "inputs => inputs.forEach(input => { input.value = 'forged'; })"
            )
            await page.get_by_role("button", name="Pause").first.click()
            await expect(page.get_by_role("heading", level=1)).to_have_text("Refused")
            assert not any(sub.paused for sub in await store.of_channel(NEWS))

            # The link again: used up. A link past its 15 minutes: expired.
            for spent in (link, await expired_link(bot)):
                await page.goto(spent)
                await expect(page.get_by_role("heading", level=1)).to_have_text(
                    "This link no longer works"
                )

    await with_bot(settings, tmp_path, slack, exercise)


async def expired_link(bot: RunningBot) -> str:
    sixteen_minutes_ago = UiAuth(
        bot.handle.client, bot.handle.keys, clock=lambda: time.time() - 16 * 60
    )
    token = await sixteen_minutes_ago.issue(Scope("slack", "T1", "UADMIN"))
    return f"http://127.0.0.1:{bot.http_port}/ui/login?t={token}"


async def test_every_page_passes_axe_with_no_serious_violation(
    settings: Settings,
    tmp_path: Path,
    slack: FakeSlack,  # noqa: F811
    feed_server: FeedServer,
) -> None:
    wire = feed_server.add("/wire.xml", wire_feed())

    async def exercise(bot: RunningBot, events: str) -> None:
        base = f"http://127.0.0.1:{bot.http_port}"
        client, keys = bot.handle.client, bot.handle.keys
        record, _ = await Watchlist(client, keys).add(wire, now=time.time())
        await SubscriptionStore(client, keys).subscribe(NEWS, record.id, now=time.time())
        await HoldStore(client, keys, ttl=86400).dead_letter(
            {"delivery": "d1", "channel": str(NEWS), "kind": "notice", "text": "x"},
            reason="invalid_blocks",
            attempts=5,
            now=time.time(),
        )

        async def fetched() -> bool:
            return bool(await client.zcard(keys.feed_stories(record.id)))

        await wait_for(fetched, what="the bot fetched the feed")
        link = await link_from_chat(slack, events)
        async with chromium() as browser:
            await check_pages(browser, link, base)

    await with_bot(settings, tmp_path, slack, exercise)


async def check_pages(browser: Browser, link: str, base: str) -> None:
    # axe-core is injected as a script, which the page's own CSP refuses.
    page = await (await browser.new_context(bypass_csp=True)).new_page()
    await page.goto(link)
    found = await serious_violations(page)
    await page.get_by_role("button", name="Sign in").click()
    for path in ("", "feeds", "channels", f"stories?channel={NEWS}&q=comet", "health"):
        await page.goto(f"{base}/ui/{path}")
        found += await serious_violations(page)
    assert found == []
