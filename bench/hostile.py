"""Hostile-input benchmark: every attack of issue #10 against a loopback server, through
`newsbot digest` as a user runs it, next to a normal feed measured in the same run; then
the second round (issue #22: a Slack replay, a spoofed label, Discord Markdown, an
injected channel, a 10 MB discovery page, the worst search query, a symlinked backup, a
/healthz flood), each through the product's own path in a child process of its own
(`bench/_hostile_more.py`), with its time and peak memory.

Per attack it prints the outcome (exit status, and the error newsbot gave or what it
printed), the wall time, the child's peak memory (its own, from wait4) and the requests the
server saw. An attack has held when newsbot ends with a clear per-feed error or a clean
digest, within its time and memory, without the server seeing a request it should not.

    python bench/hostile.py            # every attack, slowloris and hanging pages included
    python bench/hostile.py --smoke    # the quick ones, <= 30 s (CI)
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import subprocess
import sys
import tempfile
import time
import zlib
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

from aiohttp import web

ROOT = Path(__file__).resolve().parents[1]
ESCAPES = ("\x1b[", "\x1bc", "\x1b]", "\x9b")


def rss(items: str, *, title: str = "Bench feed", prolog: str = "") -> bytes:
    return (
        f'<?xml version="1.0"?>\n{prolog}<rss version="2.0"><channel><title>{title}</title>'
        f"{items}</channel></rss>"
    ).encode()


def gzip_bomb(megabytes: int) -> bytes:
    """`megabytes` MB of spaces, gzipped a megabyte at a time (the bench stays small)."""
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)  # 31: a gzip container
    chunk = b" " * (1024 * 1024)
    return b"".join(packer.compress(chunk) for _ in range(megabytes)) + packer.flush()


def item(n: int, *, title: str = "", link: str = "", text: str = "") -> str:
    body = text or ("Normal news text about the harbour and the council. " * 12)
    return (
        f"<item><title>{title or f'Story {n}'}</title>"
        f"<link>{link or f'https://news.example/{n}'}</link><guid>g{n}</guid>"
        f"<description>{body}</description></item>"
    )


@dataclass
class Attack:
    name: str
    path: str
    private_ok: bool  # NEWSBOT_ALLOW_PRIVATE_NETWORKS for this run
    quick: bool
    expect: str  # what holding looks like, shown beside the outcome
    url: str = ""  # the SOURCE given to newsbot digest, when not the farm's `path`


class Farm:
    """The loopback server: one route per attack, and a count of what it was asked."""

    def __init__(self) -> None:
        self.hits: Counter[str] = Counter()
        self.routes: dict[str, Callable[[web.Request], Awaitable[web.StreamResponse]]] = {}
        self.port = 0

    def body(self, path: str, data: bytes, **headers: str) -> None:
        headers = {"Content-Type": "application/xml", **headers}

        async def serve(_request: web.Request) -> web.StreamResponse:
            return web.Response(body=data, headers=headers)

        self.routes[path] = serve

    async def handle(self, request: web.Request) -> web.StreamResponse:
        self.hits[request.path] += 1
        route = self.routes.get(request.path)
        if route is None:
            return web.Response(status=404)
        return await route(request)

    async def start(self) -> web.AppRunner:
        app = web.Application()
        app.router.add_route("GET", "/{tail:.*}", self.handle)
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=1)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        self.port = int(runner.addresses[0][1])
        return runner


def build(farm: Farm) -> list[Attack]:
    base = f"http://127.0.0.1:{farm.port}"
    farm.body("/normal.xml", rss("".join(item(n) for n in range(20))))
    laughs = '<!ENTITY lol "lol">' + "".join(
        f'<!ENTITY lol{i} "{f"&lol{i - 1};" * 10 if i else "&lol;" * 10}">' for i in range(9)
    )
    farm.body(
        "/laughs.xml",
        rss(item(1, text="&lol8;"), prolog=f"<!DOCTYPE rss [{laughs}]>\n"),
    )
    farm.body(
        "/quadratic.xml",
        rss(
            item(1, text="&a;" * 200_000),
            prolog=f'<!DOCTYPE rss [<!ENTITY a "{"x" * 100_000}">]>\n',
        ),
    )
    farm.body(
        "/xxe.xml",
        rss(
            item(1, text="&x;"), prolog='<!DOCTYPE rss [<!ENTITY x SYSTEM "file:///etc/passwd">]>\n'
        ),
    )
    farm.body("/gzip-bomb.xml", gzip_bomb(200), **{"Content-Encoding": "gzip"})
    farm.body("/huge.xml", rss(item(1)) + b" " * (20 * 1024 * 1024))
    farm.body("/deep.json", b"[" * 100_000, **{"Content-Type": "application/feed+json"})
    evil = "Break\x1b[31ming\x1bc \x1b]8;;https://evil.example\x07news\x9b2J \u202egnp.exe"
    farm.body(
        "/escapes.xml",
        rss(
            item(1, title=evil, text="Text\x1b[8m hidden")
            + item(2, title="https://bank.example/login", link="https://evil.example/2")
            + item(3, title="Click", link="javascript:alert(1)"),
            title="Evil\x1b[2J feed",
        ),
    )
    farm.body(
        "/self.opml",
        (
            f'<?xml version="1.0"?><opml version="2.0"><body><outline xmlUrl="{base}/self.opml"/>'
            f'<outline xmlUrl="{base}/normal.xml"/><outline xmlUrl="/etc/passwd"/></body></opml>'
        ).encode(),
    )

    async def slowloris(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "application/xml"})
        await response.prepare(request)
        with contextlib.suppress(ConnectionError):  # newsbot hangs up at 30 s, as it should
            for _ in range(120):
                await response.write(b" ")
                await asyncio.sleep(1)
        return response

    farm.routes["/slowloris.xml"] = slowloris

    async def hang(_request: web.Request) -> web.StreamResponse:
        await asyncio.sleep(60)
        return web.Response(text="late")

    for n in range(200):
        farm.routes[f"/page/{n}"] = hang
    farm.body(
        "/thin.xml",
        rss("".join(item(n, link=f"{base}/page/{n}", text="Read more.") for n in range(200))),
    )
    spellings = {
        "fullwidth": "１２７.０.０.１",
        "circled": "①②⑦.⓪.⓪.①",
        "ideographic dots": "127。0。0。1",
        "mathematical": "𝟏𝟐𝟕.𝟎.𝟎.𝟏",
    }
    attacks = [
        Attack("normal feed (baseline)", "/normal.xml", True, True, "20 stories"),
        Attack("billion laughs", "/laughs.xml", True, True, "refused or not expanded"),
        Attack("quadratic entities (700 KB)", "/quadratic.xml", True, True, "refused, < 200 MB"),
        Attack("XXE file:///etc/passwd", "/xxe.xml", True, True, "no file content"),
        Attack("gzip bomb (200 MB)", "/gzip-bomb.xml", True, True, "stopped at 10 MB"),
        Attack("20 MB body", "/huge.xml", True, True, "stopped at 10 MB"),
        Attack("JSON nested 100,000 deep", "/deep.json", True, True, "per-feed error"),
        Attack("escapes, bidi, fake links", "/escapes.xml", True, True, "none in the output"),
        Attack("self-listing OPML", "/self.opml", True, True, "read once, no local path"),
        Attack("a loopback feed, private off", "/normal.xml", False, True, "refused, 0 requests"),
        Attack("slowloris", "/slowloris.xml", True, False, "cut at 30 s"),
        Attack("200 thin items, pages hang", "/thin.xml", True, False, "one deadline, < 60 s"),
    ]
    for label, host in spellings.items():
        url = f"http://{host}:{farm.port}/normal.xml"
        attacks.append(
            Attack(f"loopback as {label}", "/normal.xml", False, True, "refused, 0 requests", url)
        )
    return attacks


def run_digest(source: str, *, private_ok: bool, scratch: Path) -> tuple[int, str, float, int]:
    """`newsbot digest SOURCE --format json`: exit status, output, seconds, peak bytes."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NEWSBOT_", "SLACK_"))}
    env |= {
        "NEWSBOT_DATA_DIR": str(scratch / "data"),
        "NEWSBOT_ALLOW_PRIVATE_NETWORKS": "true" if private_ok else "false",
        "TMPDIR": str(scratch),
    }
    out_path = scratch / "out.txt"
    started = time.monotonic()
    peak = 0
    with out_path.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "bot", "digest", source, "--format", "json"],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        # The child's own high-water mark (VmHWM), read until it exits: wait4's ru_maxrss
        # would also count this process's memory at the fork.
        status = Path(f"/proc/{process.pid}/status")
        while process.poll() is None:
            with contextlib.suppress(OSError, IndexError, ValueError):
                peak = max(peak, int(status.read_text().split("VmHWM:")[1].split()[0]) * 1024)
            time.sleep(0.02)
    seconds = time.monotonic() - started
    output = out_path.read_text(errors="replace")
    return process.returncode, output, seconds, peak


def watch_child(command: list[str], env: dict[str, str]) -> tuple[int, str, float, int]:
    """Run a child: exit status, output, seconds, its own peak memory (VmHWM)."""
    started = time.monotonic()
    peak = 0
    with tempfile.TemporaryFile() as out:
        process = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT)
        status = Path(f"/proc/{process.pid}/status")
        while process.poll() is None:
            with contextlib.suppress(OSError, IndexError, ValueError):
                peak = max(peak, int(status.read_text().split("VmHWM:")[1].split()[0]) * 1024)
            time.sleep(0.02)
        out.seek(0)
        output = out.read().decode(errors="replace")
    return process.returncode, output, time.monotonic() - started, peak


def round_two(quick_only: bool) -> None:
    """The second round's attacks, one child process each."""
    from _hostile_more import ATTACKS

    env = {k: v for k, v in os.environ.items() if not k.startswith(("NEWSBOT_", "SLACK_"))}
    script = str(Path(__file__).with_name("_hostile_more.py"))
    for name, (_attack, quick, expect) in ATTACKS.items():
        if quick_only and not quick:
            continue
        code, output, seconds, peak = watch_child([sys.executable, script, name], env)
        try:
            result = json.loads(output.strip().splitlines()[-1])
            shown = ("held: " if result["held"] else "BROKEN: ") + str(result["outcome"])
        except (ValueError, IndexError, KeyError):
            shown = f"exit {code}: {output.strip().splitlines()[-1:] or 'no output'}"
        print(f"{name:32} {shown[:58]:58} {seconds:5.1f}s {peak / 2**20:5.0f} MB  ({expect})")


def attempt(url: str, *, private_ok: bool) -> tuple[int, str, float, int, list[str]]:
    """One attack in a scratch folder (its TMPDIR); also what the run left in it."""
    with tempfile.TemporaryDirectory(prefix="newsbot-hostile-") as tmp:
        scratch = Path(tmp)
        code, output, seconds, peak = run_digest(url, private_ok=private_ok, scratch=scratch)
        left = [p.name for p in scratch.iterdir() if p.name not in {"out.txt", "data"}]
    return code, output, seconds, peak, left


def outcome(code: int, output: str) -> str:
    if any(e in output for e in ESCAPES):
        return f"exit {code}: ESCAPE SEQUENCE IN OUTPUT"
    start = output.find("{")
    try:
        document = json.loads(output[start:]) if start >= 0 else {}
    except ValueError:
        document = {}
    errors = [e["error"] for e in document.get("stats", {}).get("errors", [])]
    stories = len(document.get("items", []))
    shown = f"exit {code}: {stories} stories"
    if document.get("stats", {}).get("unenriched"):
        shown += f", {document['stats']['unenriched']} unenriched"
    if errors:
        shown += f"; {errors[0][:70]}"
    if "root:" in output:
        shown += "; /etc/passwd CONTENT IN OUTPUT"
    return shown


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--smoke", action="store_true", help="the quick attacks only (CI)")
    args = parser.parse_args()
    farm = Farm()
    runner = await farm.start()
    try:
        attacks = build(farm)
        if args.smoke:
            attacks = [a for a in attacks if a.quick][:7]
        print(f"{'attack':32} {'outcome':58} {'time':>6} {'peak':>7} requests  (holds when)")
        for attack in attacks:
            before = sum(farm.hits.values())
            url = attack.url or f"http://127.0.0.1:{farm.port}{attack.path}"
            code, output, seconds, peak, left = await asyncio.to_thread(
                attempt, url, private_ok=attack.private_ok
            )
            seen = sum(farm.hits.values()) - before
            note = f"  LEFT BEHIND: {left}" if left else ""
            print(
                f"{attack.name:32} {outcome(code, output)[:58]:58} {seconds:5.1f}s "
                f"{peak / 2**20:5.0f} MB {seen:8}  ({attack.expect}){note}"
            )
    finally:
        await runner.cleanup()
    print()
    print(f"{'round two (issue #22)':32} {'outcome':58} {'time':>6} {'peak':>7}  (holds when)")
    await asyncio.to_thread(round_two, args.smoke)


if __name__ == "__main__":
    asyncio.run(main())
