"""Slack ack latency: `/news` commands over HTTP mode, 20 at a time, and as many actions
picked from stories' menus (Coverage, 👍, 👎, Mute), while the same process ingests the 200
real feeds (issues #11 and #25; targets: p99 ack < 1 s for each). Then OAuth mode with 50
installed workspaces of 5 channels (issue #27): ack p99, deliveries a second, and Redis
reads for tokens per delivery once warm (target <= 0.01).

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
from tests.bot.test_app import free_port  # noqa: E402
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
    parser.add_argument("--workspaces", type=int, default=50, help="OAuth installs")
    parser.add_argument("--channels", type=int, default=5, help="channels per workspace")
    parser.add_argument("--each", type=int, default=4, help="deliveries per channel a round")
    parser.add_argument("--oauth-only", action="store_true", help="only the OAuth part")
    args = parser.parse_args()
    if args.smoke:
        args.workspaces, args.channels, args.each = 3, 2, 2
    if args.oauth_only:
        await many_workspaces(args.workspaces, args.channels, args.each)
        return
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
    await many_workspaces(args.workspaces, args.channels, args.each)


async def many_workspaces(workspaces: int, channels: int, per_channel: int) -> None:
    """OAuth mode: `workspaces` installs through "Add to Slack", `channels` each. Every
    workspace sends `/news latest 3` at once (acks timed); then `per_channel` notices to
    every channel are delivered, twice: the first round warms the processes' token
    caches, the second is timed and its installation reads from Redis counted."""
    slack = FakeSlack(admins={"UADMIN"})
    await slack.start()
    port = free_port()
    acks: list[float] = []
    figures: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="newsbot-bench-oauth-") as tmp:
        settings = load_settings(
            {
                "NEWSBOT_DATA_DIR": tmp,
                "NEWSBOT_HTTP_PORT": str(port),
                "NEWSBOT_PUBLIC_URL": f"http://127.0.0.1:{port}",
                "NEWSBOT_POLL_INTERVAL": "3600",
                "NEWSBOT_LOG_LEVEL": "warning",
                "SLACK_CLIENT_ID": slack.client_id,
                "SLACK_CLIENT_SECRET": slack.client_secret,
                "SLACK_STATE_SECRET": "bench-state-secret",
                "SLACK_SIGNING_SECRET": SECRET,
                "NEWSBOT_SECRET_KEY": "bench-sealing-key-of-32-characters-or-more",
                "NEWSBOT_SLACK_API_URL": slack.api_url,
                "NEWSBOT_SLACK_AUTHORIZE_URL": slack.authorize_url,
            },
            cwd=Path(tmp),
        )
        stop = asyncio.Event()
        teams = [f"T{n:03}" for n in range(workspaces)]

        async def exercise(bot: RunningBot) -> None:
            try:
                base = f"http://127.0.0.1:{port}"
                for team in teams:
                    await slack.install(base, team)
                bodies = [
                    urlencode(
                        {
                            "command": "/news",
                            "text": "latest 3",
                            "team_id": team,
                            "channel_id": f"C{team}0",
                            "user_id": "UADMIN",
                            "response_url": slack.response_url(f"w{team}"),
                            "trigger_id": "1",
                        }
                    )
                    for team in teams
                ]
                async with aiohttp.ClientSession() as http:
                    for first in range(0, len(bodies), CONCURRENT):
                        chunk = bodies[first : first + CONCURRENT]
                        acks.extend(await timed_posts(http, f"{base}/slack/events", chunk, SECRET))
                assert bot.slack is not None and bot.slack.oauth is not None
                store = bot.slack.oauth.store
                for round_ in ("warm", "timed"):
                    reads = store.reads
                    started = time.perf_counter()
                    total = await deliver_round(bot, slack, teams, channels, per_channel, round_)
                    figures[f"{round_} seconds"] = time.perf_counter() - started
                    figures[f"{round_} deliveries"] = total
                    figures[f"{round_} reads"] = store.reads - reads
            finally:
                stop.set()

        await run_bot(settings, stop=stop, on_started=exercise, policy=allow_any)
    await slack.stop()
    wrong = sum(
        1
        for call in slack.calls
        if call.method == "chat.postMessage"
        and not str(call.params.get("channel", "")).startswith(f"C{slack.team_of(call.token)}")
    )
    timed, seconds = figures["timed deliveries"], figures["timed seconds"]
    print(
        f"OAuth mode: {workspaces} workspaces installed through Add to Slack, "
        f"{channels} channels each"
    )
    print(
        f"signed /news from every workspace, ack: p50 {statistics.median(acks) * 1000:.0f} ms, "
        f"p99 {percentile(acks, 0.99) * 1000:.0f} ms (target < 1000 ms)"
    )
    print(
        f"deliveries: {timed:.0f} in {seconds:.1f} s, {timed / seconds:.0f}/s "
        f"(warm-up round: {figures['warm deliveries'] / figures['warm seconds']:.0f}/s); "
        f"posts with another workspace's token: {wrong}"
    )
    print(
        f"installation reads from Redis per delivery after warm-up: "
        f"{figures['timed reads'] / timed:.4f} (target <= 0.01; warm-up round "
        f"{figures['warm reads'] / figures['warm deliveries']:.3f})"
    )


async def deliver_round(
    bot: RunningBot, slack: FakeSlack, teams: list[str], channels: int, each: int, tag: str
) -> int:
    """`each` notices to every channel of every workspace, queued as the roles queue
    them; back when Slack has accepted them all. How many."""
    before = sum(1 for call in slack.calls if call.method == "chat.postMessage" and call.ok)
    stream = bot.handle.keys.outbox("slack")
    total = 0
    # In the order digests and stories come: a round across every channel, then the next.
    for n in range(each):
        for team in teams:
            for number in range(channels):
                fields = {
                    "delivery": f"{tag}-{team}-{number}-{n}",
                    "channel": f"slack:{team}:C{team}{number}",
                    "kind": "notice",
                    "text": f"Notice {n}",
                }
                await bot.handle.client.xadd(stream, fields)
                total += 1
    while True:
        done = sum(1 for call in slack.calls if call.method == "chat.postMessage" and call.ok)
        if done - before >= total:
            return total
        await asyncio.sleep(0.05)


if __name__ == "__main__":
    asyncio.run(main())
