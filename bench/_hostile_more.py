"""The second round of hostile input (issue #22), each through the product's own path.

Every attack is a function that runs in a child process of its own (`bench/hostile.py`
measures its time and peak memory) and prints one JSON line: what happened, and whether
it held. The fakes are the tests' (a Slack that speaks its protocol; a loopback farm).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlencode

import aiohttp
from aiohttp import web

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bot.app import RunningBot, run_bot  # noqa: E402
from bot.commands.caller import Caller  # noqa: E402
from bot.commands.core import CommandCore  # noqa: E402
from bot.net.discovery import page_feeds  # noqa: E402
from bot.net.fetch import Fetcher  # noqa: E402
from bot.net.guard import allow_any  # noqa: E402
from bot.platforms.slack_adapter.commands import workspace_of  # noqa: E402
from bot.platforms.slack_adapter.web_api import api_client  # noqa: E402
from bot.render.discord_embeds import render_discord, render_discord_text  # noqa: E402
from bot.render.slack_blocks import render_slack  # noqa: E402
from bot.roles.pipeline import build_pipeline  # noqa: E402
from bot.settings import load_settings  # noqa: E402
from bot.store.connection import open_redis  # noqa: E402
from bot.store.search_index import SearchIndex  # noqa: E402
from handlers.channels import ChannelRef  # noqa: E402
from handlers.digest import Digest  # noqa: E402
from handlers.story import Story, StoryCopy  # noqa: E402
from handlers.visibility import EVERYTHING, project  # noqa: E402
from tests.articles import article  # noqa: E402
from tests.fakes.slack_api import FakeSlack  # noqa: E402

SECRET = "hostile-bench-secret"
HOSTILE_TITLE = "[bbc.co.uk/news](https://evil.example/login) **URGENT** @everyone"
Result = dict[str, object]


def _signed(body: str) -> dict[str, str]:
    stamp = str(int(time.time()))
    digest = hmac.new(SECRET.encode(), f"v0:{stamp}:{body}".encode(), hashlib.sha256)
    return {
        "X-Slack-Request-Timestamp": stamp,
        "X-Slack-Signature": f"v0={digest.hexdigest()}",
        "Content-Type": "application/x-www-form-urlencoded",
    }


async def _with_bot(
    env: dict[str, str], exercise: Callable[[RunningBot], Awaitable[Result]]
) -> Result:
    """`newsbot run`'s composition on an ephemeral embedded Redis, for one exercise."""
    found: Result = {}
    stop = asyncio.Event()
    with tempfile.TemporaryDirectory(prefix="newsbot-hostile2-") as tmp:
        settings = load_settings(
            {"NEWSBOT_DATA_DIR": tmp, "NEWSBOT_POLL_INTERVAL": "3600", **env}, cwd=Path(tmp)
        )

        async def run(bot: RunningBot) -> None:
            try:
                found.update(await exercise(bot))
            finally:
                stop.set()

        await run_bot(settings, stop=stop, on_started=run, policy=allow_any)
    return found


async def replay() -> Result:
    """The same signed `/news alert add` three times."""
    slack = FakeSlack(admins={"UADMIN"})
    await slack.start()
    port = _free_port()

    async def exercise(bot: RunningBot) -> Result:
        body = urlencode(
            {
                "command": "/news",
                "text": "alert add harbour",
                "team_id": "T1",
                "channel_id": "C1",
                "user_id": "UADMIN",
                "response_url": slack.response_url(),
                "trigger_id": "1.2.3",
            }
        )
        headers = _signed(body)
        statuses = []
        async with aiohttp.ClientSession() as http:
            for _ in range(3):
                async with http.post(
                    f"http://127.0.0.1:{port}/slack/events", data=body, headers=headers
                ) as response:
                    statuses.append(response.status)
        await asyncio.sleep(1.0)
        alerts = int(await bot.handle.client.hlen(bot.handle.keys.alerts))
        return {"outcome": f"answers {statuses}, alerts made {alerts}", "held": alerts == 1}

    try:
        return await _with_bot(
            {
                "NEWSBOT_HTTP_PORT": str(port),
                "SLACK_BOT_TOKEN": slack.token,
                "SLACK_SIGNING_SECRET": SECRET,
                "NEWSBOT_SLACK_API_URL": slack.api_url,
            },
            exercise,
        )
    finally:
        await slack.stop()


async def spoofed_label() -> Result:
    """A feed titled bbc.co.uk whose copy links to a phishing page, in "also:"."""
    when = datetime.now(UTC)
    honest = StoryCopy("s1", "Bridge", "https://news.example/1", "Local", "f1", when, when, True)
    spoof = StoryCopy("s2", "Bridge", "https://evil.example/phish", "bbc.co.uk", "f2", when, when)
    item = project(Story("s1", "Summary.", "extractive", (honest, spoof)), EVERYTHING)
    assert item is not None
    digest = Digest("Today", (item,), when)
    slack = json.dumps(render_slack(digest))
    discord = json.dumps(render_discord(digest))
    held = "bbc.co.uk (evil.example)" in slack and "evil.example\\\\)" in discord
    return {
        "outcome": "the real host is shown beside the label" if held else "SPOOFED",
        "held": held,
    }


async def discord_markdown() -> Result:
    """A failing-feed notice with Markdown and a ping in the feed's title."""
    text = f"Feed f2 ({HOSTILE_TITLE}) has been failing for 25 h: 503."
    content = str(render_discord_text(text)["content"])
    obeyed = [
        what
        for what, found in (
            ("masked link", "](" in content.replace("\\](", "")),
            ("bold", "**" in content.replace("\\*\\*", "")),
            ("ping", "@everyone" in content),
        )
        if found
    ]
    return {"outcome": f"obeyed: {obeyed or 'nothing'}", "held": not obeyed}


async def injected_channel() -> Result:
    """A channel alert naming another workspace's channel."""
    slack = FakeSlack(admins={"UADMIN"}, foreign={"CFAR"})
    await slack.start()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            settings = load_settings(
                {"NEWSBOT_DATA_DIR": tmp, "SLACK_BOT_TOKEN": slack.token,
                 "NEWSBOT_SLACK_API_URL": slack.api_url},
                cwd=Path(tmp),
            )  # fmt: skip
            async with (
                open_redis(settings, ephemeral=True) as handle,
                Fetcher(policy=allow_any) as fetcher,
            ):
                core = CommandCore(
                    client=handle.client, keys=handle.keys, settings=settings, fetcher=fetcher
                )
                api = api_client(settings)
                caller = Caller(
                    ChannelRef("slack", "T1", "C1"),
                    user="UADMIN",
                    admin=True,
                    target_workspace=await workspace_of(api, "CFAR") or "",
                )
                reply = await core.handle(caller, "alert add acme in <#CFAR>")
                alerts = int(await handle.client.hlen(handle.keys.alerts))
        return {"outcome": f"{reply.text[:60]}; alerts {alerts}", "held": alerts == 0}
    finally:
        await slack.stop()


async def big_discovery_page() -> Result:
    """A 10 MB web page given as a feed's address: read within 2 MB, parsed off the loop."""
    page = b"<html><head><link rel=alternate type=application/rss+xml href=/f.xml></head><body>"
    page += b"<p>filler</p>" * (10 * 1024 * 1024 // 13)

    async def serve(_request: web.Request) -> web.Response:
        return web.Response(body=page, content_type="text/html")

    app = web.Application()
    app.router.add_get("/page", serve)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    port = _free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    lag = 0.0
    done = asyncio.Event()

    async def watch() -> None:
        nonlocal lag
        while not done.is_set():
            before = time.monotonic()
            await asyncio.sleep(0.01)
            lag = max(lag, time.monotonic() - before - 0.01)

    watcher = asyncio.create_task(watch())
    try:
        async with Fetcher(policy=allow_any) as fetcher:
            found = await page_feeds(fetcher, f"http://127.0.0.1:{port}/page")
    finally:
        done.set()
        await watcher
        await runner.cleanup()
    held = found is None and lag < 0.2
    return {"outcome": f"not parsed (over 2 MB); loop stalled {lag * 1000:.0f} ms", "held": held}


async def worst_search() -> Result:
    """An OR-chain of title:/source: terms over 2,000 stories, against a normal query."""
    now = datetime.now(UTC)
    async with open_redis(load_settings({}), ephemeral=True) as handle:
        pipeline = build_pipeline(handle.client, handle.keys, ttl=30 * 86400)
        words = ["harbour", "report", "tides", "ships", "council", "budget"]
        entries = [
            article(
                feed_id="f1",
                entry_key=f"e{n}",
                url=f"https://n.example/{n}",
                title=f"{words[n % 6]} {words[(n + 1) % 6]} {words[(n + 2) % 6]} {n}",
                description="<p>Harbour report on tides and ships.</p>",
                published=now - timedelta(minutes=n),
                seen_at=now,
            )
            for n in range(2000)
        ]
        for first in range(0, len(entries), 200):
            await pipeline.process(entries[first : first + 200])
        index = SearchIndex(handle.client, handle.keys, ttl=30 * 86400)
        started = time.monotonic()
        await index.search("harbour")
        normal = time.monotonic() - started
        terms = [f"{field}:{w}" for w in words * 4 for field in ("title", "source")]
        while len(" OR ".join(terms)) > 480:
            terms.pop()
        worst = " OR ".join(terms)
        started = time.monotonic()
        result = await index.search(worst, limit=1000)
        took = time.monotonic() - started
    held = took < 2.0
    shown = "partial" if result.partial else "complete"
    return {
        "outcome": f"{took * 1000:.0f} ms ({shown}, {len(result.items)} hits); "
        f"a plain query {normal * 1000:.0f} ms",
        "held": held,
    }


async def symlinked_backup() -> Result:
    """`.NAME.partial` planted beside the backup target, a symlink to a file to clobber."""
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        victim = folder / "victim.txt"
        victim.write_text("precious")
        target = folder / "out" / "b.rdb"
        target.parent.mkdir()
        (target.parent / ".b.rdb.partial").symlink_to(victim)
        env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSBOT_")}
        env["NEWSBOT_DATA_DIR"] = str(folder / "data")
        done = await asyncio.to_thread(
            subprocess.run,
            [sys.executable, "-m", "bot", "backup", str(target)],
            env=env, capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip
        kept = victim.read_text() == "precious"
        written = target.exists() and target.read_bytes().startswith(b"REDIS")
    held = kept and written and done.returncode == 0
    return {
        "outcome": f"victim {'untouched' if kept else 'OVERWRITTEN'}, backup written",
        "held": held,
    }


async def health_flood() -> Result:
    """500 concurrent /healthz while every role runs."""
    port = _free_port()
    catcher = RedisErrors()
    errors = catcher.seen
    logging.getLogger().addHandler(catcher)

    async def exercise(_bot: RunningBot) -> Result:
        connector = aiohttp.TCPConnector(limit=0)
        async with aiohttp.ClientSession(connector=connector) as http:

            async def one() -> int:
                async with http.get(f"http://127.0.0.1:{port}/healthz") as response:
                    return response.status

            statuses = await asyncio.gather(*(one() for _ in range(500)))
        await asyncio.sleep(1.0)
        ok = statuses.count(200)
        return {
            "outcome": f"{ok} of 500 answered 200; Redis errors in the roles' logs: {len(errors)}",
            "held": ok == 500 and not errors,
        }

    try:
        return await _with_bot({"NEWSBOT_HTTP_PORT": str(port)}, exercise)
    finally:
        logging.getLogger().removeHandler(catcher)


class RedisErrors(logging.Handler):
    """Every log line, of any role, that says it could not use Redis."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.seen: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if "Redis" in record.getMessage():
            self.seen.append(record.getMessage())


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


ATTACKS: dict[str, tuple[Callable[[], Awaitable[Result]], bool, str]] = {
    # name: (the attack, quick enough for CI, what holding looks like)
    "Slack replay x3": (replay, False, "401 twice, one alert"),
    "spoofed 'also:' label": (spoofed_label, True, "real host shown"),
    "Discord Markdown in a notice": (discord_markdown, True, "shown as typed"),
    "channel alert, foreign channel": (injected_channel, True, "refused, no alert"),
    "10 MB discovery page": (big_discovery_page, True, "not parsed, loop < 200 ms"),
    "worst search query": (worst_search, False, "bounded by the budget"),
    "symlinked backup target": (symlinked_backup, False, "victim untouched"),
    "500 concurrent /healthz": (health_flood, False, "all 200, no Redis errors"),
}


def main(name: str) -> None:
    attack, _quick, _expect = ATTACKS[name]
    print(json.dumps(asyncio.run(attack())))


if __name__ == "__main__":
    main(sys.argv[1])
