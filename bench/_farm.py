"""The loopback feed farm of bench/poll_farm.py, and the bare conditional-GET loop it is
measured against. Each runs in a process of its own, so its CPU is its own.

    python bench/_farm.py serve --port P --feeds N --interval S --change 0.1
    python bench/_farm.py loop --port P --feeds N --interval S --seconds T

The farm serves feed `i` at `/f/<i>` (see `feed_url`): a real document from feeds-real
(`i` modulo their number, those up to `--max-kb`), with an ETag and 304 for a conditional
GET that still matches. While changes are on, every `interval` seconds a `change` share of
the feeds each gain one new story at the top (its own link and a title of random words);
a document keeps its three newest added stories. Feeds that share a document get links
and ids of their own (the host gains an `f<i>.` prefix), so each brings its own stories.

Control: `POST /_/changes?on=1|0`, `POST /_/reset` (counters only), `GET /_/stats` (each
feed's request times since the reset, 200s, 304s, changes, and this process's CPU seconds).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import re
import resource
import statistics
import time
from pathlib import Path

import aiohttp
from aiohttp import web

ROOT = Path(__file__).resolve().parents[1]
FEEDS = ROOT.parent / "shared" / "data" / "feeds-real"
_FIRST_ENTRY = re.compile(rb"<(item|entry)[\s>]")
# Where an entry's links and ids start: the host that follows gets the feed's own prefix.
_LINKS = re.compile(
    rb"(<(?:link|guid|id)\b[^>]*>\s*(?:<!\[CDATA\[\s*)?https?://"
    rb"|<link\b[^>]*?\bhref=[\"']https?://)"
)
FEEDS_PER_HOST = 5


def feed_url(port: int, feed: int) -> str:
    """Feed `i` on a loopback address of its own, five feeds to an address (127.1.x.y):
    feeds live on many hosts, and newsbot keeps to two connections per host."""
    host = feed // FEEDS_PER_HOST
    return f"http://127.1.{host // 250}.{host % 250 + 1}:{port}/f/{feed}"


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def documents(folder: Path, max_kb: int) -> list[bytes]:
    """The XML documents a story can be added to, up to `max_kb`, in file-name order."""
    out = []
    for path in sorted(folder.iterdir()):
        data = path.read_bytes()
        if path.name in {"LICENSE", "SOURCES.tsv"} or len(data) > max_kb * 1024:
            continue
        if _FIRST_ENTRY.search(data):
            out.append(data)
    return out


class Farm:
    def __init__(self, args: argparse.Namespace) -> None:
        self.docs = documents(args.folder, args.max_kb)
        self.feeds = args.feeds
        self.interval = args.interval
        self.change = args.change
        self.rng = random.Random(args.seed)
        words = re.findall(rb"[a-z]{4,10}", b" ".join(self.docs[:40]))
        self.words = sorted({w.decode() for w in words})
        self.versions = [0] * self.feeds
        self.added: list[list[bytes]] = [[] for _ in range(self.feeds)]
        self.distinct = args.distinct
        self.cache: dict[int, bytes] = {}
        self.changing = False
        self.reset()

    def reset(self) -> None:
        self.requests: list[list[float]] = [[] for _ in range(self.feeds)]
        self.ok = 0
        self.not_modified = 0
        self.changes = 0

    def document(self, feed: int) -> bytes:
        if feed not in self.cache:
            base = self.docs[feed % len(self.docs)]
            if self.added[feed]:
                at = _FIRST_ENTRY.search(base)
                assert at is not None
                stories = b"".join(reversed(self.added[feed]))
                base = base[: at.start()] + stories + base[at.start() :]
            if self.distinct:
                base = _LINKS.sub(rb"\g<1>f%d." % feed, base)
            if len(self.cache) > 1000:
                self.cache.clear()
            self.cache[feed] = base
        return self.cache[feed]

    def add_story(self, feed: int) -> None:
        self.versions[feed] += 1
        version = self.versions[feed]
        base = self.docs[feed % len(self.docs)]
        atom = _FIRST_ENTRY.search(base)[1] == b"entry"  # type: ignore[index]
        title = " ".join(self.rng.choice(self.words) for _ in range(9)).capitalize()
        link = f"http://farm.invalid/story/{feed}/{version}"
        words = " ".join(self.rng.choice(self.words) for _ in range(60))
        when = time.strftime("%a, %d %b %Y %H:%M:%S +0000", time.gmtime())
        if atom:
            iso = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
            story = (
                f"<entry><id>{link}</id><title>{title}</title><link href='{link}'/>"
                f"<updated>{iso}</updated><summary>{words}</summary></entry>"
            )
        else:
            story = (
                f"<item><title>{title}</title><link>{link}</link><guid>{link}</guid>"
                f"<pubDate>{when}</pubDate><description>{words}</description></item>"
            )
        self.added[feed] = [*self.added[feed][-2:], story.encode()]
        self.cache.pop(feed, None)
        self.changes += 1

    async def tick(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            if self.changing:
                for feed in self.rng.sample(range(self.feeds), round(self.feeds * self.change)):
                    self.add_story(feed)

    async def serve_feed(self, request: web.Request) -> web.Response:
        feed = int(request.match_info["feed"])
        if not 0 <= feed < self.feeds:
            raise web.HTTPNotFound()
        self.requests[feed].append(time.time())
        etag = f'"{feed}-{self.versions[feed]}"'
        if request.headers.get("If-None-Match") == etag:
            self.not_modified += 1
            return web.Response(status=304, headers={"ETag": etag})
        self.ok += 1
        return web.Response(
            body=self.document(feed), content_type="application/xml", headers={"ETag": etag}
        )

    async def control(self, request: web.Request) -> web.Response:
        action = request.match_info["action"]
        if action == "changes":
            self.changing = request.query.get("on") == "1"
        elif action == "reset":
            self.reset()
        elif action == "stats":
            return web.json_response(
                {
                    "requests": self.requests,
                    "ok": self.ok,
                    "not_modified": self.not_modified,
                    "changes": self.changes,
                    "cpu": cpu_seconds(),
                    "documents": len(self.docs),
                    "mean_bytes": statistics.fmean(len(d) for d in self.docs),
                }
            )
        return web.json_response({"ok": True})


async def serve(args: argparse.Namespace) -> None:
    farm = Farm(args)
    app = web.Application()
    app.router.add_get("/f/{feed}", farm.serve_feed)
    app.router.add_route("*", "/_/{action}", farm.control)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    # Every address of 127.0.0.0/8 is this machine's; a socket bound to 127.0.0.1 would
    # only take connections to that one.
    await web.TCPSite(runner, "0.0.0.0", args.port, backlog=4096).start()
    print("ready", flush=True)
    await farm.tick()


async def loop(args: argparse.Namespace) -> None:
    """The baseline: every feed fetched with a conditional GET once per interval, at most
    `--concurrency` at a time; prints the same figures the benchmark reads from newsbot."""
    etags: dict[int, str] = {}
    due = [time.time() + args.interval * i / args.feeds for i in range(args.feeds)]
    end = time.time() + args.seconds
    queue: asyncio.Queue[int] = asyncio.Queue()
    fetched = 0
    connector = aiohttp.TCPConnector(limit=args.concurrency)

    async def scheduler() -> None:
        order = sorted(range(args.feeds), key=lambda i: due[i])
        while time.time() < end:
            for feed in order:
                delay = due[feed] - time.time()
                if delay > 0:
                    await asyncio.sleep(delay)
                await queue.put(feed)
                due[feed] += args.interval

    async def worker(session: aiohttp.ClientSession) -> None:
        nonlocal fetched
        while True:
            feed = await queue.get()
            headers = {"If-None-Match": etags[feed]} if feed in etags else {}
            async with session.get(feed_url(args.port, feed), headers=headers) as response:
                await response.read()
                if "ETag" in response.headers:
                    etags[feed] = response.headers["ETag"]
            fetched += 1

    async with aiohttp.ClientSession(connector=connector) as session:
        workers = [asyncio.create_task(worker(session)) for _ in range(args.concurrency)]
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(scheduler(), args.seconds + 1)
        for task in workers:
            task.cancel()
    print(json.dumps({"fetched": fetched, "cpu": cpu_seconds(), "pid": os.getpid()}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("mode", choices=["serve", "loop"])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--feeds", type=int, default=5000)
    parser.add_argument("--interval", type=float, default=10.0)
    parser.add_argument("--change", type=float, default=0.1)
    parser.add_argument("--max-kb", type=int, default=150)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--folder", type=Path, default=FEEDS)
    parser.add_argument(
        "--same-documents",
        dest="distinct",
        action="store_false",
        help="serve feeds sharing a document byte for byte (default: each feed's links "
        "and ids are its own, so every feed brings stories of its own)",
    )
    args = parser.parse_args()
    asyncio.run(serve(args) if args.mode == "serve" else loop(args))


if __name__ == "__main__":
    main()
