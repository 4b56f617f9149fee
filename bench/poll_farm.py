"""Poll farm benchmark: `newsbot run` polling N real-size feeds on a loopback farm.

The farm (bench/_farm.py, a process of its own) serves N feeds, each a real document of
feeds-real up to 150 KB, with ETag and 304. Feed `i` lives on a loopback address of its
own (127.1.x.y, five feeds per address), as feeds live on many hosts and newsbot keeps to
two connections per host. Every sweep interval a share of the feeds (10% by default) each
gain one new story. Channels on the console platform follow the feeds in digest mode on a
yearly schedule, so the run measures polling and the pipeline, not posting.

For 1 and then 2 `newsbot run` processes on one fresh Redis each, it reports:
- warm-up: the time until every feed was fetched once, and until the entries stream was
  empty after that (the first sweep through the pipeline);
- over the steady window (changes on): feeds/s against the rate demanded (N / interval),
  changed documents/s, new stories/s stored, each process's CPU, the farm's CPU, poll
  lateness (p50 and p99 of each feed's gap between polls, minus the interval), the entries
  stream's backlog at the end, and Redis memory (peak and at the end).
Then, in the same run, the baseline: a bare aiohttp conditional-GET loop over the same
URLs at the same interval, with its feeds/s, lateness and CPU.

    python bench/poll_farm.py                           # 5,000 feeds every 10 s, 10% changing
    python bench/poll_farm.py --feeds 10000 --processes 2
    python bench/poll_farm.py --smoke                   # 40 feeds, 1 process (CI)
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
from _farm import ROOT, feed_url
from _figures import percentile
from _redis_memory import memory_by_family
from redis.asyncio import Redis

sys.path.insert(0, str(ROOT))  # the private Redis lives with the tests

from bot.store.keys import Keys
from tests.fakes.redis_cluster import free_ports
from tests.fakes.redis_server import PrivateRedis

FARM = Path(__file__).with_name("_farm.py")
FEEDS_PER_CHANNEL = 50
TICK = os.sysconf("SC_CLK_TCK")


def process_cpu(pid: int) -> float:
    """CPU seconds (user + system) a live process has used."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


@dataclass
class Figures:
    """One run's figures: newsbot with some processes, or the bare loop."""

    name: str
    demanded: float
    feeds_polled_at: float = float("nan")
    caught_up_at: float = float("nan")
    polls: int = 0
    changed: int = 0
    seconds: float = 0.0
    stories: int = 0
    cpu: list[float] = field(default_factory=list)
    farm_cpu: float = 0.0
    lateness: list[float] = field(default_factory=list)
    backlog: int = 0
    memory_peak: int = 0
    memory_end: int = 0
    stored: int = 0
    families: list[tuple[str, int, int]] = field(default_factory=list)
    parsed: int = 0
    queued_share: float = float("nan")

    def read_farm(
        self, stats: dict[str, object], cpu_before: float, interval: float, since: float
    ) -> None:
        """The farm's side of the steady window: polls, changed documents, lateness, CPU."""
        self.farm_cpu = float(stats["cpu"]) - cpu_before  # type: ignore[arg-type]
        requests = stats["requests"]
        assert isinstance(requests, list)
        self.polls = sum(len(r) for r in requests)
        self.changed = int(stats["ok"])  # type: ignore[call-overload]
        self.lateness = lateness(requests, interval, since)

    def line(self) -> str:
        rate = self.polls / self.seconds
        cpu = ", ".join(f"{c / self.seconds:.0%}" for c in self.cpu)
        text = (
            f"{self.name}\n"
            f"  warm-up: every feed fetched at {self.feeds_polled_at:.1f} s"
            + (
                f", entries stream empty at {self.caught_up_at:.1f} s"
                if self.caught_up_at == self.caught_up_at
                else ""
            )
            + f"\n  steady ({self.seconds:.0f} s): {rate:.0f} feeds/s of {self.demanded:.0f} "
            f"demanded ({rate / self.demanded:.0%}); changed documents/s "
            f"{self.changed / self.seconds:.1f}"
            f"\n  CPU per process {cpu}; farm {self.farm_cpu / self.seconds:.0%}"
            f"\n  lateness p50 {percentile(self.lateness, 0.5):.2f} s, "
            f"p99 {percentile(self.lateness, 0.99):.2f} s"
        )
        if self.parsed:
            text += (
                f"\n  entries parsed {self.parsed:,}, of which {self.queued_share:.1%} reached "
                "the entries stream (the rest were known unchanged)"
            )
        if self.memory_peak:
            text += (
                f"\n  new stories/s stored {self.stories / self.seconds:.1f}; entries backlog "
                f"at the end {self.backlog}; Redis memory peak {self.memory_peak / 2**20:.0f} MB, "
                f"end {self.memory_end / 2**20:.0f} MB ({self.stored} stories, "
                f"{self.memory_end / max(self.stored, 1):.0f} B each)"
            )
            for name, count, used in self.families[:8]:
                text += f"\n    {used / 2**20:7.1f} MB  {count:7} keys  {name}"
        return text


class FarmProcess:
    def __init__(self, args: argparse.Namespace) -> None:
        self.port = free_ports(1)[0]
        self.url = f"http://127.0.0.1:{self.port}"
        self.process = subprocess.Popen(
            [
                *(sys.executable, str(FARM), "serve", "--port", str(self.port)),
                *("--feeds", str(args.feeds), "--interval", str(args.interval)),
                *("--change", str(args.change), "--max-kb", str(args.max_kb)),
            ],
            stdout=subprocess.PIPE,
        )
        assert self.process.stdout is not None
        if self.process.stdout.readline().strip() != b"ready":
            raise SystemExit("the farm did not start")

    async def call(self, action: str, **query: str) -> dict[str, object]:
        async with (
            aiohttp.ClientSession() as session,
            session.post(f"{self.url}/_/{action}", params=query) as response,
        ):
            return dict(await response.json())

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)


async def entry_counts(ports: list[int]) -> tuple[int, int]:
    """Entries queued and entries found unchanged, over the processes' /metrics."""
    queued = unchanged = 0
    async with aiohttp.ClientSession() as session:
        for port in ports:
            async with session.get(f"http://127.0.0.1:{port}/metrics") as response:
                for line in (await response.text()).splitlines():
                    name, _, value = line.partition(" ")
                    if name == "newsbot_entries_queued_total":
                        queued += int(float(value))
                    elif name == "newsbot_entries_unchanged_total":
                        unchanged += int(float(value))
    return queued, unchanged


def start_newsbot(env: dict[str, str], log: Path, port: int) -> subprocess.Popen[bytes]:
    with log.open("wb") as stderr:
        return subprocess.Popen(
            [sys.executable, "-m", "bot", "run"],
            env=env | {"NEWSBOT_HTTP_PORT": str(port)},
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=stderr,
        )


def write_config(path: Path, port: int, feeds: int) -> None:
    lines = []
    for channel in range(0, feeds, FEEDS_PER_CHANNEL):
        lines += [
            "[[channels]]",
            f'id = "console:local:c{channel // FEEDS_PER_CHANNEL}"',
            'schedule = "0 0 1 1 *"',
        ]
        for feed in range(channel, min(channel + FEEDS_PER_CHANNEL, feeds)):
            lines += ["[[channels.feeds]]", f'url = "{feed_url(port, feed)}"', 'mode = "digest"']
        lines.append("")
    path.write_text("\n".join(lines))


def lateness(requests: list[list[float]], interval: float, since: float) -> list[float]:
    out = []
    for times in requests:
        inside = [t for t in times if t >= since]
        out += [b - a - interval for a, b in itertools.pairwise(inside)]
    return out


async def wait_for_first_sweep(
    farm: FarmProcess, feeds: int, started: float, limit: float
) -> float:
    while time.time() - started < limit:
        stats = await farm.call("stats")
        requests = stats["requests"]
        assert isinstance(requests, list)
        if all(requests[:feeds]):
            return time.time() - started
        await asyncio.sleep(1.0)
    return float("nan")


async def run_newsbot(
    args: argparse.Namespace, farm: FarmProcess, processes: int, folder: Path
) -> Figures:
    figures = Figures(f"newsbot run x{processes}", demanded=args.feeds / args.interval)
    redis_server = PrivateRedis(folder / "redis", port=free_ports(1)[0])
    await asyncio.to_thread(redis_server.directory.mkdir, parents=True)
    await asyncio.to_thread(redis_server.start)
    client = Redis.from_url(redis_server.url, decode_responses=True)
    keys = Keys()
    write_config(folder / "newsbot.toml", farm.port, args.feeds)
    own = ("NEWSBOT_", "SLACK_", "DISCORD_")
    env = {k: v for k, v in os.environ.items() if not k.startswith(own)}
    env |= {
        "NEWSBOT_REDIS_URL": redis_server.url,
        "NEWSBOT_CONFIG": str(folder / "newsbot.toml"),
        "NEWSBOT_DATA_DIR": str(folder / "data"),
        "NEWSBOT_POLL_INTERVAL": str(args.interval),
        "NEWSBOT_ALLOW_PRIVATE_NETWORKS": "true",
        "NEWSBOT_ENRICH_MAX_PER_POLL": "0",
        "NEWSBOT_SUBSCRIPTIONS_PER_CHANNEL": str(FEEDS_PER_CHANNEL),
        "NEWSBOT_SUBSCRIPTIONS_PER_WORKSPACE": str(args.feeds + FEEDS_PER_CHANNEL),
        "NEWSBOT_LOG_FORMAT": "json",
    }
    await farm.call("changes", on="0")
    await farm.call("reset")
    running: list[subprocess.Popen[bytes]] = []
    try:
        started = time.time()
        ports = [free_ports(1)[0] for _ in range(processes)]
        for number, port in enumerate(ports):
            running.append(start_newsbot(env, folder / f"newsbot-{number}.log", port))
        figures.feeds_polled_at = await wait_for_first_sweep(
            farm, args.feeds, started, args.warmup_limit
        )
        if figures.feeds_polled_at != figures.feeds_polled_at:
            tail = (folder / "newsbot-0.log").read_text().splitlines()[-10:]
            raise SystemExit("newsbot did not fetch every feed; its log ends:\n" + "\n".join(tail))
        while time.time() - started < args.warmup_limit:
            if not await client.xlen(keys.entries):
                figures.caught_up_at = time.time() - started
                break
            await asyncio.sleep(1.0)
        # The steady window: changes on, counters from zero.
        await farm.call("changes", on="1")
        await farm.call("reset")
        window = time.time()
        farm_cpu = float((await farm.call("stats"))["cpu"])  # type: ignore[arg-type]
        cpu = [process_cpu(p.pid) for p in running]
        counted = await entry_counts(ports)
        stories = int(await client.zcard(keys.stories))
        await asyncio.sleep(args.steady)
        figures.seconds = time.time() - window
        figures.cpu = [process_cpu(p.pid) - c for p, c in zip(running, cpu, strict=True)]
        queued, unchanged = (a - b for a, b in zip(await entry_counts(ports), counted, strict=True))
        figures.queued_share = queued / max(queued + unchanged, 1)
        figures.parsed = queued + unchanged
        figures.read_farm(await farm.call("stats"), farm_cpu, args.interval, window)
        figures.stored = int(await client.zcard(keys.stories))
        figures.stories = figures.stored - stories
        figures.backlog = int(await client.xlen(keys.entries))
        memory = await client.info("memory")
        figures.memory_peak = int(memory["used_memory_peak"])
        figures.memory_end = int(memory["used_memory"])
        figures.families = await memory_by_family(client)
    finally:
        for process in running:
            process.send_signal(signal.SIGTERM)
        for process in running:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
        await client.aclose()
        redis_server.stop()
    return figures


async def run_loop(args: argparse.Namespace, farm: FarmProcess) -> Figures:
    figures = Figures("bare aiohttp conditional-GET loop (baseline)", args.feeds / args.interval)
    await farm.call("changes", on="0")
    await farm.call("reset")
    started = time.time()
    loop = await asyncio.create_subprocess_exec(
        sys.executable, str(FARM), "loop", "--port", str(farm.port), "--feeds", str(args.feeds),
        "--interval", str(args.interval), "--seconds", str(args.interval + args.steady),
        stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip
    figures.feeds_polled_at = await wait_for_first_sweep(
        farm, args.feeds, started, args.warmup_limit
    )
    await farm.call("changes", on="1")
    await farm.call("reset")
    window = time.time()
    farm_cpu = float((await farm.call("stats"))["cpu"])  # type: ignore[arg-type]
    output, _ = await loop.communicate()
    figures.seconds = time.time() - window
    figures.read_farm(await farm.call("stats"), farm_cpu, args.interval, window)
    report = json.loads(output.decode().strip().splitlines()[-1])
    figures.cpu = [float(report["cpu"]) * figures.seconds / (time.time() - started)]
    return figures


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--feeds", type=int, default=5000)
    parser.add_argument("--interval", type=float, default=10.0)
    parser.add_argument("--change", type=float, default=0.1, help="share changing per sweep")
    parser.add_argument("--steady", type=float, default=60.0, help="seconds measured")
    parser.add_argument("--warmup-limit", type=float, default=600.0)
    parser.add_argument("--processes", default="1,2", help="comma-separated process counts")
    parser.add_argument("--max-kb", type=int, default=150)
    parser.add_argument("--smoke", action="store_true", help="40 feeds, 1 process (CI)")
    args = parser.parse_args()
    if args.smoke:
        args.feeds, args.interval, args.steady, args.processes = 40, 2.0, 4.0, "1"
        args.warmup_limit = 90.0
    farm = FarmProcess(args)
    try:
        print(
            f"feeds: {args.feeds} every {args.interval:g} s ({args.feeds / args.interval:.0f}/s "
            f"demanded), {args.change:.0%} changing per sweep, documents up to {args.max_kb} KB"
        )
        with tempfile.TemporaryDirectory(prefix="newsbot-farm-") as tmp:
            for count in (int(n) for n in args.processes.split(",")):
                figures = await run_newsbot(args, farm, count, Path(tmp) / f"run-{count}")
                print(figures.line(), flush=True)
        print((await run_loop(args, farm)).line())
    finally:
        farm.stop()


if __name__ == "__main__":
    asyncio.run(main())
