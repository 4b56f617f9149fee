"""Slack ack latency: `/news` commands over HTTP mode, 20 at a time, and as many actions
picked from stories' menus (Coverage, 👍, 👎, Mute), while the same process ingests the 200
real feeds (issues #11 and #25; targets: p99 ack < 1 s for each).

`newsbot run`'s own composition (run_bot) serves `POST /slack/events` with the real
slack-bolt app, and talks to a fake Slack Web API on 127.0.0.1 for auth.test, users.info
and response_url. Each round sends 20 signed commands at once and times each HTTP answer
(the ack), then 20 signed `block_actions` on stories stored so far (Summary is left out:
the real feeds' pages are not reachable here, and the ack never waits for the page). The
baseline, in the same run and on the same server, is 20 forged requests at once: bolt
answers those 401 after checking the signature, without running anything.

    python bench/slack.py            # the 200 real feeds, rounds until they are ingested
    python bench/slack.py --smoke    # five feeds, a few rounds (CI)
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import hmac
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlencode

import aiohttp
from _corpus import FEEDS, load_feeds, serve_feeds
from _figures import percentile

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the fake Slack the tests use

from bot.app import RunningBot, run_bot  # noqa: E402
from bot.net.guard import allow_any  # noqa: E402
from bot.settings import load_settings  # noqa: E402
from bot.store.watchlist import Watchlist  # noqa: E402
from handlers.story_actions import action_value  # noqa: E402
from tests.fakes.slack_api import FakeSlack  # noqa: E402

SECRET = "bench-signing-secret"
CONCURRENT = 20
ACTIONS = ("coverage", "up", "down", "mute")


def signed(body: str, secret: str) -> dict[str, str]:
    stamp = str(int(time.time()))
    digest = hmac.new(secret.encode(), f"v0:{stamp}:{body}".encode(), hashlib.sha256)
    return {
        "X-Slack-Request-Timestamp": stamp,
        "X-Slack-Signature": f"v0={digest.hexdigest()}",
        "Content-Type": "application/x-www-form-urlencoded",
    }


async def timed_posts(
    http: aiohttp.ClientSession, url: str, bodies: list[str], secret: str
) -> list[float]:
    async def one(body: str) -> float:
        started = time.perf_counter()
        async with http.post(url, data=body, headers=signed(body, secret)) as response:
            await response.read()
        return time.perf_counter() - started

    return list(await asyncio.gather(*(one(b) for b in bodies)))


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--smoke", action="store_true", help="five feeds, a few rounds (CI)")
    args = parser.parse_args()
    feeds = dict(load_feeds(FEEDS, 5 if args.smoke else None))
    slack = FakeSlack(admins={"UADMIN"})
    await slack.start()
    runner, farm_port = await serve_feeds(feeds)
    acks: list[float] = []
    action_acks: list[float] = []
    forged: list[float] = []
    ingested = {"entries": 0.0}

    with tempfile.TemporaryDirectory(prefix="newsbot-bench-slack-") as tmp:
        settings = load_settings(
            {
                "NEWSBOT_DATA_DIR": tmp,
                "NEWSBOT_HTTP_PORT": "0",
                "NEWSBOT_POLL_INTERVAL": "3600",
                "NEWSBOT_LOG_LEVEL": "warning",
                "SLACK_BOT_TOKEN": slack.token,
                "SLACK_SIGNING_SECRET": SECRET,
                "NEWSBOT_SLACK_API_URL": slack.api_url,
            },
            cwd=Path(tmp),
        )
        stop = asyncio.Event()

        async def exercise(bot: RunningBot) -> None:
            try:
                watchlist = Watchlist(bot.handle.client, bot.handle.keys)
                for name in feeds:
                    await watchlist.add(f"http://127.0.0.1:{farm_port}/{name}", now=time.time())
                events = f"http://127.0.0.1:{bot.http_port}/slack/events"
                rounds = 0
                async with aiohttp.ClientSession() as http:
                    while True:
                        bodies = [
                            urlencode(
                                {
                                    "command": "/news",
                                    "text": "latest 3",
                                    "team_id": "T1",
                                    "channel_id": "C1",
                                    "user_id": "UADMIN",
                                    "response_url": slack.response_url(f"{rounds}-{n}"),
                                    "trigger_id": "1",
                                }
                            )
                            for n in range(CONCURRENT)
                        ]
                        acks.extend(await timed_posts(http, events, bodies, SECRET))
                        stored = await bot.handle.client.zrevrange(
                            bot.handle.keys.stories, 0, CONCURRENT - 1
                        )
                        picks = [
                            urlencode(
                                {
                                    "payload": json.dumps(
                                        slack.block_actions(
                                            action_value(ACTIONS[n % len(ACTIONS)], str(story)),
                                            user=f"U{n % 5}",
                                            name=f"a{rounds}-{n}",
                                        )
                                    )
                                }
                            )
                            for n, story in enumerate(stored)
                        ]
                        action_acks.extend(await timed_posts(http, events, picks, SECRET))
                        forged.extend(await timed_posts(http, events, bodies, "forged"))
                        rounds += 1
                        processed = bot.metrics.registry.get_sample_value(
                            "newsbot_entries_processed_total"
                        )
                        ingested["entries"] = processed or 0.0
                        lag = await bot.handle.client.xlen(bot.handle.keys.entries)
                        polled = (
                            bot.metrics.registry.get_sample_value("newsbot_feeds_polled_total") or 0
                        )
                        if args.smoke and rounds >= 3 and (action_acks or rounds >= 50):
                            break
                        if rounds >= 3 and polled >= len(feeds) * 0.95 and lag == 0:
                            break
                        if rounds >= 400:
                            break
                        await asyncio.sleep(0.2)
            finally:
                stop.set()

        await run_bot(settings, stop=stop, on_started=exercise, policy=allow_any)
    await runner.cleanup()
    await slack.stop()
    print(f"feeds: {len(feeds)}; entries ingested meanwhile: {ingested['entries']:.0f}")
    print(f"{'':34} {'p50':>8} {'p99':>8} {'max':>8}  requests")
    for label, values in (
        ("forged request, 401 (baseline)", forged),
        ("signed /news, ack", acks),
        ("signed story action, ack", action_acks),
    ):
        if not values:
            print(f"{label:34} none (no story stored yet)")
            continue
        print(
            f"{label:34} {statistics.median(values) * 1000:6.0f}ms "
            f"{percentile(values, 0.99) * 1000:6.0f}ms {max(values) * 1000:6.0f}ms  {len(values)}"
        )
    print(
        f"p99 ack target: < 1000 ms. Answers through response_url: {len(slack.responses)} "
        f"of {len(acks) + len(action_acks)}; calls Slack would refuse: {len(slack.problems)}"
    )


if __name__ == "__main__":
    asyncio.run(main())
