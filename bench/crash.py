"""Crash benchmark: nothing lost and nothing posted twice while newsbot processes are killed
and Slack refuses posts.

One run, as an operator's cluster would live it (issues #9 and #21):
- a standalone redis-server that this script owns (killing newsbot never kills Redis);
- a local feed farm on 127.0.0.1 whose feeds gain entries over the run;
- a fake Slack (tests/fakes/slack_api.py) that the real adapter posts to;
- Slack channels, each following one feed, half instant and half digest on a 5-field cron
  that fires every minute;
- several real `newsbot run` processes, each logging (JSON, to a file of its own) "delivery
  sent" once the platform took a delivery and "delivery recorded" once its record is written;
- first a calm phase (the baseline), then a random process SIGKILLed every few seconds and
  replaced by a new one (a new pid, as a restart gives). During the kill phase 20% of posts
  are refused with an error drawn from Slack's refusal table (transient, message and
  channel classes), and a tenth of the channels refuse everything for a minute, then
  accept (held, then released by the probe).

At the end it counts, per channel, the stories expected, delivered, dead-lettered (with
their reasons), lost and doubled. A double is inside the documented window when an earlier
send of the same delivery id has no "recorded" line after it in its process's log (the
process died between the two); any other double is a bug. It also reports the longest time
a refused message held its channel up. Targets: 0 lost, 0 doubles outside the window, over
at least 20 kills; no channel blocked by a refused message for longer than one backoff step.

    python bench/crash.py            # 1,000 entries, 100 channels, 50 feeds, 3 processes
    python bench/crash.py --smoke    # instant channels only, a few kills, <= 30 s (CI)
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from email.utils import format_datetime
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

from _figures import percentile
from aiohttp import web
from redis.asyncio import Redis

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the fake Slack lives with the tests

from bot.roles.refusal import BACKOFF_FIRST  # noqa: E402
from bot.store.embedded_redis import EmbeddedRedis  # noqa: E402
from bot.store.keys import Keys  # noqa: E402
from bot.store.stories import load_stories  # noqa: E402
from tests.fakes.slack_api import FakeSlack  # noqa: E402

# Refusals drawn during the kill phase: every class of the table but the token's.
FAULTS = (
    "internal_error",
    "fatal_error",
    "service_unavailable",
    "an_error_newsbot_does_not_know",
    "invalid_blocks",
    "msg_too_long",
    "not_in_channel",
    "restricted_action",
)
FAULT_SHARE = 0.2
SECRET = "crash-bench-signing-secret"
WORDS = [
    "harbour",
    "council",
    "budget",
    "rail",
    "strike",
    "vote",
    "court",
    "ruling",
    "storm",
    "flood",
    "market",
    "shares",
    "energy",
    "grid",
    "drought",
    "harvest",
    "bridge",
    "tunnel",
    "museum",
    "archive",
    "election",
    "turnout",
    "minister",
    "airport",
    "runway",
    "hospital",
    "vaccine",
    "trial",
    "satellite",
    "launch",
    "orbit",
    "glacier",
    "reserve",
    "wildfire",
    "coast",
    "festival",
    "stadium",
    "transfer",
    "league",
    "merger",
    "factory",
    "export",
    "tariff",
    "pension",
    "school",
    "teacher",
]


@dataclass
class Farm:
    """Feeds that gain entries while the benchmark runs; ETags keep unchanged polls cheap."""

    feeds: int
    items: dict[int, list[tuple[int, float]]] = field(default_factory=lambda: defaultdict(list))
    added_at: dict[int, float] = field(default_factory=dict)
    port: int = 0

    def url(self, feed: int) -> str:
        return f"http://127.0.0.1:{self.port}/feed/{feed}.xml"

    def add(self, entry: int, feed: int) -> None:
        now = time.time()
        self.items[feed].append((entry, now))
        self.added_at[entry] = now

    def document(self, feed: int) -> str:
        parts = [
            '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
            f"<title>Crash feed {feed}</title><link>http://127.0.0.1/</link>"
        ]
        for entry, added in self.items[feed]:
            rng = random.Random(entry)  # reproducible filler text
            text = " ".join(rng.choice(WORDS) for _ in range(90))
            parts.append(
                f"<item><title>E{entry}: {escape(' '.join(rng.sample(WORDS, 6)))}</title>"
                f"<link>http://127.0.0.1/story/{entry}</link><guid>e{entry}</guid>"
                f"<pubDate>{format_datetime(datetime.fromtimestamp(added).astimezone())}</pubDate>"
                f"<description>{escape(text)}</description></item>"
            )
        parts.append("</channel></rss>")
        return "".join(parts)

    async def serve(self) -> web.AppRunner:
        async def feed(request: web.Request) -> web.Response:
            number = int(request.match_info["n"])
            tag = f'"{len(self.items[number])}"'
            if request.headers.get("If-None-Match") == tag:
                return web.Response(status=304, headers={"ETag": tag})
            return web.Response(
                text=self.document(number),
                content_type="application/rss+xml",
                headers={"ETag": tag},
            )

        app = web.Application()
        app.router.add_get("/feed/{n:\\d+}.xml", feed)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        self.port = int(runner.addresses[0][1])
        return runner


@dataclass
class Plan:
    entries: int
    channels: int
    feeds: int
    processes: int
    arrival_seconds: float
    calm_share: float
    kill_every: float
    settle_seconds: float
    claim_idle: float
    digests: bool
    refusing_share: float = 0.1
    refuse_seconds: float = 60.0

    def channel(self, number: int) -> str:
        return f"slack:T1:{self.slack_id(number)}"

    @property
    def refusing(self) -> int:
        """How many channels refuse everything for `refuse_seconds` of the kill phase."""
        return max(1, int(self.channels * self.refusing_share))

    def slack_id(self, number: int) -> str:
        return f"C{number}"

    def feed_of(self, channel: int) -> int:
        return channel % self.feeds

    def instant(self, channel: int) -> bool:
        return not self.digests or channel % 2 == 0


def write_config(plan: Plan, farm: Farm, path: Path) -> None:
    lines = []
    for number in range(plan.channels):
        lines += [
            "[[channels]]",
            f'id = "{plan.channel(number)}"',
            'schedule = "* * * * *"',
            "[[channels.feeds]]",
            f'url = "{farm.url(plan.feed_of(number))}"',
            f'mode = "{"instant" if plan.instant(number) else "digest"}"',
            "",
        ]
    path.write_text("\n".join(lines))


class Fleet:
    """The `newsbot run` processes, started and killed; each logs to a file of its own."""

    def __init__(self, env: dict[str, str], folder: Path) -> None:
        self.env = env
        self.folder = folder
        self.running: list[subprocess.Popen[bytes]] = []
        self.logs: list[Path] = []
        self.kills = 0

    def start(self) -> None:
        log = self.folder / f"newsbot-{len(self.logs)}.log"
        self.logs.append(log)
        with log.open("wb") as stderr:
            process = subprocess.Popen(
                [sys.executable, "-m", "bot", "run"],
                env=self.env,
                cwd=ROOT,
                stdout=subprocess.DEVNULL,
                stderr=stderr,
            )
        self.running.append(process)

    def kill_one(self, rng: random.Random) -> None:
        victim = self.running.pop(rng.randrange(len(self.running)))
        victim.send_signal(signal.SIGKILL)
        victim.wait()
        self.kills += 1
        self.start()

    def stop(self) -> None:
        for process in self.running:
            process.send_signal(signal.SIGTERM)
        for process in self.running:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()


@dataclass
class Sent:
    delivery: str
    channel: str
    stories: list[str]
    more: int
    at: float
    log: int
    recorded_after: bool = False


def blocked_by_refused_messages(logs: list[Path]) -> list[float]:
    """For each message Slack refused as a message: seconds from the refusal until, in the
    same process, it was sent as plain text or dead-lettered, so that it no longer held its
    channel up. A plain-text try that meets a transient error waits like any other
    delivery, one that finds the channel refusing holds the channel (neither is the
    message refusal's doing), and a process killed in between is a crash's delay: none of
    those counts."""
    blocked: list[float] = []
    for path in logs:
        refused: dict[str, float] = {}
        for line in path.read_text(errors="replace").splitlines():
            try:
                record: dict[str, Any] = json.loads(line) if line.startswith("{") else {}
            except ValueError:
                continue
            message, delivery = record.get("message"), record.get("delivery", "")
            if not message or "time" not in record:
                continue
            at = datetime.fromisoformat(record["time"]).timestamp()
            if message == "the platform refuses a message; sending it as plain text":
                refused[delivery] = at
            elif delivery in refused:
                if message in ("delivery sent", "delivery dead-lettered"):
                    blocked.append(at - refused.pop(delivery))
                elif message in (
                    "delivery refused; will retry",
                    "the platform refuses a channel; its deliveries are held",
                    "a held channel still refuses",
                ):
                    refused.pop(delivery)
    return blocked


def read_logs(logs: list[Path]) -> list[Sent]:
    """Every "delivery sent", marked when its own process recorded it afterwards."""
    sent: list[Sent] = []
    for number, path in enumerate(logs):
        open_sends: dict[str, Sent] = {}
        for line in path.read_text(errors="replace").splitlines():
            if not line.startswith("{"):
                continue
            try:
                record: dict[str, Any] = json.loads(line)
            except ValueError:
                continue  # a line cut short by SIGKILL
            message = record.get("message")
            if message == "delivery sent":
                raw = str(record.get("stories", ""))
                stories = json.loads(raw) if raw.startswith("[") else [raw] if raw else []
                item = Sent(
                    record["delivery"],
                    record.get("channel", ""),
                    stories,
                    int(record.get("more", 0)),
                    datetime.fromisoformat(record["time"]).timestamp(),
                    number,
                )
                sent.append(item)
                open_sends[item.delivery] = item
            elif message == "delivery recorded" and record.get("delivery") in open_sends:
                open_sends.pop(record["delivery"]).recorded_after = True
    return sent


async def entry_numbers(client: Redis, keys: Keys, story_ids: set[str]) -> dict[str, int]:
    """Story id -> the farm entry it is (its title starts with E<number>:)."""
    found = {}
    for story in await load_stories(client, keys, sorted(story_ids)):
        title = story.primary().title
        if title.startswith("E") and ":" in title:
            found[story.id] = int(title[1 : title.index(":")])
    return found


@dataclass
class Tally:
    expected: dict[str, set[int]]
    delivered: dict[str, Counter[int]]
    held_back: int
    doubles_in_window: int
    doubles_outside: list[str]
    latencies: dict[str, list[float]]
    dead: dict[str, set[int]] = field(default_factory=dict)
    dead_reasons: Counter[str] = field(default_factory=Counter)
    blocked: list[float] = field(default_factory=list)
    # Not delivered yet but still queued, held or backing off when the run ended: late,
    # not lost (a short run can end inside a retry's backoff).
    waiting: dict[str, set[int]] = field(default_factory=dict)

    @property
    def undelivered(self) -> dict[str, set[int]]:
        """Neither delivered nor dead-lettered (yet)."""
        return {
            c: e - set(self.delivered.get(c, ())) - self.dead.get(c, set())
            for c, e in self.expected.items()
        }

    @property
    def lost(self) -> dict[str, set[int]]:
        return {
            c: e
            - set(self.delivered.get(c, ()))
            - self.dead.get(c, set())
            - self.waiting.get(c, set())
            for c, e in self.expected.items()
        }


async def tally(
    plan: Plan,
    farm: Farm,
    logs: list[Path],
    client: Redis,
    keys: Keys,
    calm_until: float,
    refusing: frozenset[str] = frozenset(),
) -> Tally:
    sent = read_logs(logs)
    numbers = await entry_numbers(client, keys, {s for item in sent for s in item.stories})
    expected = {
        plan.channel(c): {entry for entry, _at in farm.items[plan.feed_of(c)]}
        for c in range(plan.channels)
    }
    by_delivery: dict[str, list[Sent]] = defaultdict(list)
    for item in sent:
        by_delivery[item.delivery].append(item)
    delivered: dict[str, Counter[int]] = defaultdict(Counter)
    latencies: dict[str, list[float]] = {"calm": [], "kills": [], "held": []}
    in_window, outside = 0, []
    for delivery, sends in by_delivery.items():
        sends.sort(key=lambda s: s.at)
        if len(sends) > 1:
            earlier_unrecorded = all(not s.recorded_after for s in sends[:-1])
            if earlier_unrecorded:
                in_window += len(sends) - 1
            else:
                outside.append(delivery)
        first = sends[0]
        for story in first.stories:
            if story in numbers:
                entry = numbers[story]
                delivered[first.channel][entry] += 1
                if "|story|" in delivery:
                    phase = "calm" if farm.added_at[entry] < calm_until else "kills"
                    if phase == "kills" and first.channel in refusing:
                        phase = "held"  # the channel refused for a minute: held, by design
                    latencies[phase].append(first.at - farm.added_at[entry])
    # The same entry reaching a channel under two delivery ids is a double too, never allowed.
    for channel, counts in delivered.items():
        outside += [f"{channel}|entry {e} x{n}" for e, n in counts.items() if n > 1]
    held_back = sum(item.more for sends in by_delivery.values() for item in sends[:1])
    dead: dict[str, set[int]] = defaultdict(set)
    reasons: Counter[str] = Counter()
    letters = await client.xrange(keys.outbox_dead("slack"))
    dead_ids = {
        story
        for _id, fields in letters
        for story in (json.loads(fields.get("stories") or "[]") or [fields.get("story", "")])
    }
    dead_numbers = await entry_numbers(client, keys, {s for s in dead_ids if s})
    for _id, fields in letters:
        reasons[fields.get("dead_reason", "").split(":", 1)[0]] += 1
        for story in json.loads(fields.get("stories") or "[]") or [fields.get("story", "")]:
            if story in dead_numbers:
                dead[fields["channel"]].add(dead_numbers[story])
    result = Tally(expected, delivered, held_back, in_window, outside, latencies)
    result.dead, result.dead_reasons = dict(dead), reasons
    result.blocked = blocked_by_refused_messages(logs)
    result.waiting = await still_waiting(client, keys, list(expected))
    return result


async def still_waiting(client: Redis, keys: Keys, channels: list[str]) -> dict[str, set[int]]:
    """Entries whose delivery is still queued on the outbox, held, or not yet forwarded."""
    messages = [dict(f) for _id, f in await client.xrange(keys.outbox("slack"))]
    for channel in channels:
        for key in (keys.channel_held(channel), keys.channel_out(channel)):
            messages += [json.loads(raw) for raw in await client.lrange(key, 0, -1)]
        pending = await client.zrange(keys.channel_pending(channel), 0, -1)
        messages += [{"channel": channel, "story": str(story)} for story in pending]
    ids = {
        story
        for m in messages
        for story in (json.loads(m.get("stories") or "[]") or [m.get("story", "")])
        if story
    }
    numbers = await entry_numbers(client, keys, ids)
    waiting: dict[str, set[int]] = defaultdict(set)
    for m in messages:
        for story in json.loads(m.get("stories") or "[]") or [m.get("story", "")]:
            if story in numbers:
                waiting[m.get("channel", "")].add(numbers[story])
    return dict(waiting)


async def run(plan: Plan, seed: int) -> Tally:
    rng = random.Random(seed)  # a reproducible schedule of arrivals and kills
    with tempfile.TemporaryDirectory(prefix="newsbot-crash-") as tmp:
        folder = Path(tmp)
        server = EmbeddedRedis(folder / "redis-data", persistent=False)
        await asyncio.to_thread(server.start)
        farm = Farm(plan.feeds)
        runner = await farm.serve()
        slack = FakeSlack(fault_errors=FAULTS, rng=random.Random(seed))
        await slack.start()
        client = Redis.from_url(server.url, decode_responses=True)
        keys = Keys()
        fleet = None
        try:
            write_config(plan, farm, folder / "newsbot.toml")
            env = {
                k: v
                for k, v in os.environ.items()
                if not k.startswith(("NEWSBOT_", "SLACK_", "DISCORD_"))
            }
            env |= {
                "NEWSBOT_REDIS_URL": server.url,
                "NEWSBOT_CONFIG": str(folder / "newsbot.toml"),
                "NEWSBOT_DATA_DIR": str(folder / "data"),
                "NEWSBOT_POLL_INTERVAL": "1",
                "NEWSBOT_ALLOW_PRIVATE_NETWORKS": "true",
                "NEWSBOT_CLAIM_IDLE": str(plan.claim_idle),
                "NEWSBOT_HTTP_PORT": "0",
                "NEWSBOT_LOG_FORMAT": "json",
                "NEWSBOT_REFUSED_PROBE": "5",
                "SLACK_BOT_TOKEN": slack.token,
                "SLACK_SIGNING_SECRET": SECRET,
                "NEWSBOT_SLACK_API_URL": slack.api_url,
                "PYTHONUNBUFFERED": "1",
            }
            fleet = Fleet(env, folder)
            for _ in range(plan.processes):
                fleet.start()
            if not await first_polls(client, keys, plan.feeds, within=60):
                tail = "\n".join(fleet.logs[0].read_text().splitlines()[-15:])
                raise SystemExit(f"the feeds were not all polled within 60 s; a log ends:\n{tail}")
            started = time.time()
            calm_until = started + plan.arrival_seconds * plan.calm_share
            next_kill = calm_until
            refusing = rng.sample(range(plan.channels), plan.refusing)
            refuse_until = 0.0
            for entry in range(plan.entries):
                due = started + plan.arrival_seconds * entry / plan.entries
                while time.time() < due:
                    if time.time() >= next_kill:
                        if not slack.fault_share:  # the kill phase begins
                            slack.fault_share = FAULT_SHARE
                            refuse_until = time.time() + plan.refuse_seconds
                            for number in refusing:
                                slack.channel_errors[plan.slack_id(number)] = "not_in_channel"
                        fleet.kill_one(rng)
                        next_kill += plan.kill_every
                    if refuse_until and time.time() >= refuse_until:
                        slack.channel_errors.clear()  # they accept again
                    await asyncio.sleep(min(0.05, max(due - time.time(), 0)))
                farm.add(entry, entry % plan.feeds)  # evenly: no digest over its cap of 10
            slack.fault_share = 0.0
            slack.channel_errors.clear()
            deadline = time.time() + plan.settle_seconds
            while time.time() < deadline:
                await asyncio.sleep(1.0)
                current = await tally(plan, farm, fleet.logs, client, keys, calm_until)
                if not any(current.undelivered.values()):
                    break
            fleet.stop()
            logs, kills = fleet.logs, fleet.kills
            fleet = None
            print(f"newsbot processes started: {len(logs)}; SIGKILLs: {kills}")
            faults = Counter(error for _channel, error in slack.faulted)
            print(
                f"posts Slack refused on purpose: {len(slack.faulted)} "
                f"({', '.join(f'{e} {n}' for e, n in faults.most_common())}); "
                f"channels refusing for {plan.refuse_seconds:.0f} s: {len(refusing)}"
            )
            if slack.problems:
                print(
                    f"calls Slack's spec would refuse: {len(slack.problems)}: {slack.problems[:3]}"
                )
            refused = frozenset(plan.channel(n) for n in refusing)
            return await tally(plan, farm, logs, client, keys, calm_until, refused)
        finally:
            if fleet is not None:
                fleet.stop()
            await client.aclose()
            await runner.cleanup()
            await slack.stop()
            await asyncio.to_thread(server.stop)


async def first_polls(client: Redis, keys: Keys, feeds: int, *, within: float) -> bool:
    """Wait until every feed was polled once (while empty), so every entry counts as new."""
    deadline = time.time() + within
    while time.time() < deadline:
        polled = 0
        for number in range(1, feeds + 1):
            if await client.hget(keys.feed(f"f{number}"), "last_ok"):
                polled += 1
        if polled == feeds:
            return True
        await asyncio.sleep(0.2)
    return False


def report(plan: Plan, result: Tally) -> bool:
    expected = sum(len(e) for e in result.expected.values())
    delivered = sum(len(d) for d in result.delivered.values())
    lost = sum(len(v) for v in result.lost.values())
    worst = sorted(((len(v), c) for c, v in result.lost.items() if v), reverse=True)[:5]
    print(
        f"channels: {plan.channels} ({'half instant, half digest' if plan.digests else 'instant'})"
        f"; feeds: {plan.feeds}; entries: {plan.entries}"
    )
    dead = sum(len(v) for v in result.dead.values())
    print(f"stories expected in channels: {expected}   delivered once: {delivered}")
    reasons = ", ".join(f"{r} {n}" for r, n in result.dead_reasons.most_common())
    print(f"dead-lettered: {dead} stories{' (' + reasons + ')' if reasons else ''}")
    waiting = sum(len(v - set(result.delivered.get(c, ()))) for c, v in result.waiting.items())
    print(f"still queued, held or backing off at the end (late, not lost): {waiting}")
    print(f"silently lost: {lost} (target 0){'   worst: ' + str(worst) if worst else ''}")
    print(f"doubles outside the one-write window: {len(result.doubles_outside)} (target 0)")
    for double in result.doubles_outside[:10]:
        print(f"  {double}")
    print(
        f"doubles inside the window (died after sending, before recording): "
        f"{result.doubles_in_window}"
    )
    print(f"held back by the digest cap ('and N more'): {result.held_back}")
    longest = max(result.blocked, default=0.0)
    print(
        f"longest a refused message held its channel up: {longest:.1f} s over "
        f"{len(result.blocked)} refused messages (target <= one backoff step, "
        f"{BACKOFF_FIRST:.0f} s)"
    )
    names = {"calm": "calm phase", "kills": "kill phase", "held": "kill phase, refusing channels"}
    for phase, name in names.items():
        values = result.latencies[phase]
        if values:
            print(
                f"instant delivery latency, {name}: median "
                f"{statistics.median(values):5.2f} s, p99 {percentile(values, 0.99):5.2f} s, "
                f"max {max(values):5.2f} s  ({len(values)} posts)"
                + ("   <- baseline" if phase == "calm" else "")
            )
    return lost == 0 and not result.doubles_outside and longest <= BACKOFF_FIRST


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--smoke", action="store_true", help="a few kills, <= 30 s (CI)")
    parser.add_argument("--seed", type=int, default=9)
    args = parser.parse_args()
    if args.smoke:
        plan = Plan(
            entries=40,
            channels=8,
            feeds=4,
            processes=3,
            arrival_seconds=9,
            calm_share=0.25,
            kill_every=2.5,
            settle_seconds=30,
            claim_idle=1.5,
            digests=False,
            refuse_seconds=4,
        )
    else:
        plan = Plan(
            entries=1000,
            channels=100,
            feeds=50,
            processes=3,
            arrival_seconds=240,
            calm_share=0.2,
            kill_every=5.5,
            settle_seconds=150,
            claim_idle=5,
            digests=True,
        )
    started = time.monotonic()
    result = asyncio.run(run(plan, args.seed))
    ok = report(plan, result)
    print(f"wall time: {time.monotonic() - started:.0f} s")
    raise SystemExit(0 if ok else 1)


if __name__ == "__main__":
    main()
