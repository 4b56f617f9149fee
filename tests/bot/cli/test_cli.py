"""The `newsbot` command line, run as a user runs it: a subprocess against local servers."""

from __future__ import annotations

import asyncio
import json
import os
import pty
import select
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from xml.etree import ElementTree

import redis

from bot.store.connection import RedisHandle
from bot.store.holds import HoldStore
from handlers.text import split_sentences
from tests.articles import rss
from tests.bot.platforms.outbox_helpers import hold
from tests.fakes.feed_server import FeedServer
from tests.scraped_page import CHROME_MARKERS, article_lines, page_html

T0 = datetime(2026, 11, 27, 6, tzinfo=UTC)


async def newsbot(
    *args: str, env: dict[str, str], stdin: bytes | None = None
) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        *args,
        env=env,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(stdin), timeout=120)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


def cli_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("NEWSBOT_", "SLACK_", "DISCORD_"))
    }
    env.update(
        {"NEWSBOT_DATA_DIR": str(tmp_path / "data"), "NEWSBOT_ALLOW_PRIVATE_NETWORKS": "true"}
    )
    env.update(extra)
    return env


def two_outlets(server: FeedServer) -> tuple[str, str]:
    shared = "https://wire.example.com/story/42"
    first = server.add(
        "/a.xml",
        rss(
            "Outlet A",
            [
                {
                    "title": "Wire story, A's copy",
                    "link": shared,
                    "guid": "a-42",
                    "published": T0 + timedelta(hours=2),
                    "description": "Wire lead. More detail.",
                },
                {
                    "title": "Only in A",
                    "link": "https://a.example.com/own",
                    "guid": "a-1",
                    "published": T0 + timedelta(hours=3),
                    "description": "Own story.",
                },
            ],
        ),
    )
    second = server.add(
        "/b.xml",
        rss(
            "Outlet B",
            [
                {
                    "title": "Wire story, B's copy",
                    "link": shared,
                    "guid": "b-42",
                    "published": T0 + timedelta(hours=1),
                    "description": "Wire lead. More detail.",
                },
                {"title": "Undated in B", "link": "https://b.example.com/undated", "guid": "b-2"},
            ],
        ),
    )
    return first, second


async def test_digest_json_folds_copies_and_reports_errors(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    first, second = two_outlets(feed_server)
    missing = feed_server.url("/missing.xml")
    code, out, err = await newsbot(
        "digest", first, second, missing, "--format", "json", env=cli_env(tmp_path)
    )
    assert code == 0, err
    document = json.loads(out)
    assert set(document) == {"generated_at", "items", "stats"}
    titles = [item["title"] for item in document["items"]]
    assert titles == ["Only in A", "Wire story, B's copy", "Undated in B"]
    wire = document["items"][1]
    assert wire["source"] == "Outlet B", "the earliest published copy is the primary"
    assert wire["outlets"] == 2 and document["items"][0]["outlets"] == 1
    assert wire["published"] == "2026-11-27T07:00:00Z"
    assert wire["also"] == [
        {
            "title": "Wire story, A's copy",
            "url": "https://wire.example.com/story/42",
            "source": "Outlet A",
        }
    ]
    assert len(wire["id"]) == 16 and wire["summary"] == "Wire lead. More detail."
    assert document["items"][2]["published"] is None
    assert document["stats"]["feeds"] == 2 and document["stats"]["entries"] == 4
    [error] = document["stats"]["errors"]
    assert error["source"] == missing and "404" in error["error"]


async def test_digest_is_stateless_and_capped(
    tmp_path: Path, feed_server: FeedServer, redis_url: str
) -> None:
    first, second = two_outlets(feed_server)
    env = cli_env(tmp_path, NEWSBOT_REDIS_URL=redis_url)
    runs = [
        await newsbot("digest", first, second, "--format", "json", "--max-items", "1", env=env)
        for _ in range(2)
    ]
    documents = [json.loads(out) for _code, out, _err in runs]
    assert [len(d["items"]) for d in documents] == [1, 1]
    assert documents[0]["items"] == documents[1]["items"]
    assert documents[0]["stats"]["entries"] == 4, "stats count entries before --max-items"
    assert feed_server.requests[-1][1].get("If-None-Match") is None
    socket_path = redis_url.removeprefix("unix://")
    assert redis.Redis(unix_socket_path=socket_path).keys("*") == [], "throwaway keys removed"


async def test_digest_reads_files_and_opml(tmp_path: Path, feed_server: FeedServer) -> None:
    first, second = two_outlets(feed_server)
    local = tmp_path / "local.xml"
    local.write_text(rss("Local file", [{"title": "From disk", "link": "https://disk.example/1"}]))
    opml = tmp_path / "list.opml"
    opml.write_text(
        f'<?xml version="1.0"?><opml version="2.0"><head/><body>'
        f'<outline text="A" xmlUrl="{first}"/><outline text="B" xmlUrl="{second}"/>'
        f"</body></opml>"
    )
    code, out, err = await newsbot(
        "digest", str(local), str(opml), "--format", "markdown", env=cli_env(tmp_path)
    )
    assert code == 0, err
    assert "From disk" in out and "Only in A" in out and "also: Outlet A" in out
    assert "from 3 feeds" in out


async def test_digest_shows_progress_on_a_terminal(tmp_path: Path, feed_server: FeedServer) -> None:
    first, second = two_outlets(feed_server)
    leader, follower = pty.openpty()
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "digest",
        first,
        second,
        env=cli_env(tmp_path),
        stdout=asyncio.subprocess.PIPE,
        stderr=follower,
    )
    os.close(follower)
    out, _ = await asyncio.wait_for(process.communicate(), timeout=60)
    shown = b""
    while select.select([leader], [], [], 0.5)[0]:
        try:
            chunk = os.read(leader, 65536)
        except OSError:
            break
        if not chunk:
            break
        shown += chunk
    os.close(leader)
    assert process.returncode == 0
    assert b"fetching" in shown, "a progress bar on the terminal"
    assert b"fetching" not in out and b"Only in A" in out, "never on stdout"


async def test_digest_prints_slack_and_discord_payloads(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    first, second = two_outlets(feed_server)
    code, out, err = await newsbot(
        "digest", first, second, "--format", "slack", "--max-items", "2", env=cli_env(tmp_path)
    )
    assert code == 0, err
    [message] = json.loads(out)
    sections = [b for b in message["blocks"] if b["type"] == "section"]
    assert len(sections) == 2 and "channel" not in message and message["text"]
    assert "and 1 more" in json.dumps(message["blocks"][-1])
    code, out, err = await newsbot(
        "digest", first, second, "--format", "discord", env=cli_env(tmp_path)
    )
    assert code == 0, err
    [message] = json.loads(out)
    assert [e["title"] for e in message["embeds"]] == [
        "Only in A",
        "Wire story, B's copy",
        "Undated in B",
    ]
    assert message["allowed_mentions"] == {"parse": []}


async def test_digest_exit_codes(tmp_path: Path, feed_server: FeedServer) -> None:
    env = cli_env(tmp_path)
    code, out, err = await newsbot(
        "digest", feed_server.url("/nothing"), str(tmp_path / "nope.xml"), env=env
    )
    assert code == 1 and "404" in err and "no such file" in err
    assert out == "", "every source failed: the errors alone, no '0 of 0 stories' digest"
    code, out, err = await newsbot("digest", "http://no-such-host.invalid/feed", env=env)
    assert code == 1 and out == ""
    assert "cannot find the host no-such-host.invalid (DNS lookup failed)" in err, err
    code, _out, err = await newsbot("digest", "x", "--max-items", "0", env=env)
    assert code == 2 and "at least 1" in err
    code, _out, err = await newsbot("digest", "x", env=cli_env(tmp_path, NEWSBOT_HTTP_PORT="-1"))
    assert code == 2 and "NEWSBOT_HTTP_PORT" in err


async def test_digest_refuses_private_addresses_by_default(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    first, _second = two_outlets(feed_server)
    env = cli_env(tmp_path, NEWSBOT_ALLOW_PRIVATE_NETWORKS="false")
    code, out, err = await newsbot("digest", first, "--format", "json", env=env)
    assert code == 1, err
    [error] = json.loads(out)["stats"]["errors"]
    assert "not a public address" in error["error"]
    assert "NEWSBOT_ALLOW_PRIVATE_NETWORKS=true" in error["error"], "the way out"
    assert feed_server.hits["/a.xml"] == 0


async def test_summarize_the_scraped_page_without_its_chrome(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    url = feed_server.add("/article.html", page_html(), content_type="text/html")
    code, out, err = await newsbot("summarize", url, "--format", "json", env=cli_env(tmp_path))
    assert code == 0, err
    result = json.loads(out)
    assert result["method"] == "extractive" and result["title"].startswith("North Koreans tell BBC")
    body = " ".join(article_lines()[1:])
    sentences = split_sentences(result["summary"])
    assert 1 <= len(sentences) <= 3 and all(sentence in body for sentence in sentences)
    summary_and_title = result["summary"] + result["title"]
    assert not any(marker in summary_and_title for marker in CHROME_MARKERS)
    assert len(result["summary"]) <= 600


async def test_summarize_plain_text_from_stdin(tmp_path: Path) -> None:
    text = "\n".join(article_lines()).encode()
    code, out, err = await newsbot(
        "summarize", "-", "--sentences", "2", env=cli_env(tmp_path), stdin=text
    )
    assert code == 0, err
    assert out.strip() and "extractive summary" in err


async def test_feeds_commands_round_trip_through_opml(tmp_path: Path) -> None:
    env = cli_env(tmp_path)
    code, out, _ = await newsbot("feeds", "add", "https://one.example.com/feed", env=env)
    assert code == 0 and "added f1" in out
    code, out, _ = await newsbot("feeds", "add", "https://one.example.com/feed", env=env)
    assert "already watched as f1" in out
    code, _, err = await newsbot("feeds", "add", "not a url", env=env)
    assert code == 1 and "not an http(s) feed URL" in err
    opml = tmp_path / "in.opml"
    opml.write_text(
        '<?xml version="1.0"?><opml version="2.0"><head/><body><outline text="Cat">'
        '<outline text="Two &amp; Co" xmlUrl="https://two.example.com/rss"/>'
        '<outline text="One" xmlUrl="https://one.example.com/feed"/></outline>'
        "</body></opml>"
    )
    code, out, _ = await newsbot("feeds", "import", str(opml), env=env)
    assert code == 0 and "1 added, 1 already watched" in out
    exported = tmp_path / "out.opml"
    code, _, _ = await newsbot("feeds", "export", "-o", str(exported), env=env)
    assert code == 0
    code, out, _ = await newsbot("feeds", "import", str(exported), env=env)
    assert "0 added, 2 already watched" in out
    assert 'text="Two &amp; Co"' in exported.read_text()
    code, out, _ = await newsbot("feeds", "list", "--format", "json", env=env)
    assert [f["id"] for f in json.loads(out)] == ["f1", "f2"]
    code, out, _ = await newsbot("feeds", "remove", "f1", env=env)
    assert code == 0 and "removed f1" in out
    code, _, err = await newsbot("feeds", "remove", "f1", env=env)
    assert code == 1 and "no watched feed" in err
    code, out, _ = await newsbot("check", env=env)
    assert code == 0 and "redis: ok" in out and "1 watched" in out


async def test_feeds_subscribe_channels(tmp_path: Path) -> None:
    env = cli_env(tmp_path)
    code, out, err = await newsbot(
        "feeds",
        "add",
        "https://one.example.com/feed",
        "--channel",
        "console:local:main",
        "--mode",
        "instant",
        "--filter",
        "ukraine -sport",
        env=env,
    )
    assert code == 0, err
    assert "subscribed console:local:main to f1 (instant, filter 'ukraine -sport')" in out
    code, out, _ = await newsbot(
        "feeds",
        "add",
        "https://one.example.com/feed",
        "--channel",
        "console:local:main",
        "--mode",
        "digest",
        env=env,
    )
    assert "updated the subscription" in out and "(digest, filter 'ukraine -sport')" in out
    code, _, err = await newsbot(
        "feeds", "add", "https://x.example.com/f", "--channel", "irc:net:chan", env=env
    )
    assert code == 2 and "unknown platform 'irc'" in err
    code, _, err = await newsbot(
        "feeds",
        "add",
        "https://x.example.com/f",
        "--channel",
        "console:local:main",
        "--filter",
        "(open",
        env=env,
    )
    assert code == 2 and "never closed" in err
    await newsbot("feeds", "add", "https://two.example.com/feed", env=env)
    code, out, _ = await newsbot(
        "feeds", "list", "--channel", "console:local:main", "--format", "json", env=env
    )
    assert [(f["id"], f["mode"]) for f in json.loads(out)] == [("f1", "digest")]
    code, out, _ = await newsbot("feeds", "remove", "f1", env=env)
    assert "and 1 channel subscription(s)" in out
    code, out, _ = await newsbot("feeds", "list", "--channel", "console:local:main", env=env)
    assert "no feeds for console:local:main yet" in out


async def test_check_and_feeds_list_show_a_channel_that_refuses_deliveries(
    tmp_path: Path, redis_url: str, handle: RedisHandle
) -> None:
    env = cli_env(tmp_path, NEWSBOT_REDIS_URL=redis_url)
    code, _, err = await newsbot(
        "feeds", "add", "https://one.example.com/feed", "--channel", "slack:T1:C9", env=env
    )
    assert code == 0, err
    code, out, _ = await newsbot("check", env=env)
    assert "channels: 1, 0 refusing deliveries" in out
    assert "outbox slack" not in out, "nothing queued, nothing to say"
    await handle.client.xadd(
        handle.keys.outbox("slack"), {"delivery": "d1", "channel": "slack:T1:C9", "kind": "quiet"}
    )
    code, out, _ = await newsbot("check", env=env)
    assert "outbox slack: 1 queued, oldest " in out and "NO deliverer running" in out
    holds = HoldStore(handle.client, handle.keys, ttl=86400)
    since = time.time() - 5 * 86400
    await hold(handle, "slack:T1:C9", reason="not_in_channel: /invite @newsbot", since=since)
    await holds.dead_letter(
        {"delivery": "d2", "channel": "slack:T1:C1", "kind": "quiet"},
        reason="invalid_blocks",
        attempts=2,
        now=time.time(),
    )
    code, out, _ = await newsbot("check", env=env)
    assert "channels: 1, 1 refusing deliveries (held)" in out
    assert (
        "slack:T1:C9: not_in_channel: /invite @newsbot; 1 deliveries held; its subscriptions "
        "are removed in 25 days" in out
    )
    assert "outbox slack: 1 queued" in out and "1 dead letter(s), 1 held channel(s)" in out
    assert "newsbot outbox list" in out
    code, out, _ = await newsbot("outbox", "list", env=env)
    assert code == 0
    assert "held channels: 1\n  slack:T1:C9  since " in out and "1 deliveries held" in out
    assert "dead letters: 1\n" in out and "slack:T1:C1" in out and "invalid_blocks" in out
    code, _, err = await newsbot("outbox", "drop", "nothing-like-it", env=env)
    assert code == 2 and "no dead letter or held channel matches" in err
    code, out, _ = await newsbot("outbox", "retry", "slack:T1:C1", env=env)
    assert code == 0 and "1 dead letter queued again" in out
    queued = await handle.client.xrange(handle.keys.outbox("slack"))
    assert [f["delivery"] for _, f in queued] == ["d1", "d2"]
    assert "dead_reason" not in queued[-1][1], "queued as it first was"
    code, out, _ = await newsbot("outbox", "retry", "slack:T1:C9", env=env)
    assert code == 0 and "1 held channel will be probed now" in out
    code, out, _ = await newsbot("feeds", "list", "--channel", "slack:T1:C9", env=env)
    assert "delivery to slack:T1:C9 FAILED: not_in_channel" in out


def test_a_reader_that_goes_away_ends_the_digest_quietly(tmp_path: Path) -> None:
    feed = tmp_path / "feed.xml"
    feed.write_bytes(rss("Daily", [{"title": f"Story {n}"} for n in range(5)]).encode())
    reader, writer = os.pipe()
    os.close(reader)  # as `newsbot digest … | head` once head has what it wants
    try:
        process = subprocess.run(
            [sys.executable, "-m", "bot", "digest", str(feed)],
            stdout=writer,
            stderr=subprocess.PIPE,
            env=cli_env(tmp_path),
            timeout=120,
            check=False,
        )
    finally:
        os.close(writer)
    assert process.returncode == 141
    assert b"Traceback" not in process.stderr and b"BrokenPipe" not in process.stderr


def opml_listing(*urls: str) -> str:
    outlines = "".join(f'<outline text="{n}" xmlUrl="{u}"/>' for n, u in enumerate(urls))
    return f'<?xml version="1.0"?><opml version="2.0"><head/><body>{outlines}</body></opml>'


async def test_an_opml_file_that_lists_itself_is_read_once(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    first, _second = two_outlets(feed_server)
    opml = tmp_path / "loop.opml"
    inner = tmp_path / "inner.opml"
    opml.write_text(opml_listing(str(opml), str(inner), first))
    inner.write_text(opml_listing(str(opml), str(inner)))
    code, out, err = await newsbot("digest", str(opml), "--format", "json", env=cli_env(tmp_path))
    assert code == 0, err
    document = json.loads(out)
    assert document["stats"]["feeds"] == 1 and "Only in A" in out


async def test_a_remote_opml_may_not_name_local_files(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    first, _second = two_outlets(feed_server)
    secret = tmp_path / "secret.xml"
    secret.write_text(rss("Secret", [{"title": "Private notes", "link": "https://in.example/1"}]))
    remote = feed_server.add(
        "/list.opml", opml_listing(str(secret), first), content_type="text/x-opml"
    )
    code, out, err = await newsbot("digest", remote, "--format", "json", env=cli_env(tmp_path))
    assert code == 0, err
    document = json.loads(out)
    assert "Private notes" not in out and "Only in A" in out
    [error] = document["stats"]["errors"]
    assert error["source"] == str(secret) and "only list http(s) feeds" in error["error"]


async def test_feeds_list_and_check_mask_a_private_feeds_credentials(
    tmp_path: Path, redis_url: str, handle: RedisHandle
) -> None:
    env = cli_env(tmp_path, NEWSBOT_REDIS_URL=redis_url)
    url = "https://reader:hunter2@private.example.com/feed.xml?token=t0k3n"
    code, out, err = await newsbot("feeds", "add", url, env=env)
    assert code == 0, err
    record = await handle.client.hget(handle.keys.feed("f1"), "url")
    assert record == url, "the feed keeps its credentials to use them"
    await handle.client.hset(handle.keys.feed("f1"), mapping={"failures": 1, "last_error": "x"})
    for command in (("feeds", "list"), ("feeds", "list", "--format", "json"), ("check",)):
        code, out, err = await newsbot(*command, env=env)
        assert "hunter2" not in out + err and "t0k3n" not in out + err, command
        assert "reader:***@private.example.com" in out, command


HOSTILE_TITLE = (
    "Breaking\x1b[31m news\x1bc \x1b]8;;https://evil.example\x07here\x9b2J \u202egnp.exe"
)
# What the feed tried to send; rich's own colours and links are allowed in --format terminal.
FROM_THE_FEED = ["\x1b[31m", "\x1bc", "8;;https://evil.example\x07", "\x1b[8m", "\x1b[2J", "\x9b"]


async def test_no_format_carries_terminal_escapes_or_unsafe_links(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    url = feed_server.add(
        "/hostile.xml",
        rss(
            "Evil\x1b[2J feed",
            [
                {
                    "title": HOSTILE_TITLE,
                    "link": "https://news.example/1",
                    "guid": "1",
                    "description": "Text\x1b[8m hidden\x9b and more words here.",
                },
                {
                    "title": "https://bank.example/login",
                    "link": "https://evil.example/2",
                    "guid": "2",
                    "description": "Log in to keep your account.",
                },
                {
                    "title": "Click me",
                    "link": "javascript:alert(1)",
                    "guid": "3",
                    "description": "A script link.",
                },
            ],
        ),
    )
    for form in ("text", "markdown", "terminal", "json", "slack", "discord"):
        code, out, err = await newsbot("digest", url, "--format", form, env=cli_env(tmp_path))
        assert code == 0, err
        assert not any(escape in out for escape in FROM_THE_FEED), form
        assert "\u202e" not in out and ("\x1b" not in out or form == "terminal"), form
        assert "javascript:" not in out.replace("javascript:alert", "") or form == "json", form
        assert "evil.example" in out, f"{form}: the real host of the bank-looking link"
    code, out, _ = await newsbot("digest", url, "--format", "markdown", env=cli_env(tmp_path))
    assert "](<javascript:" not in out


async def test_feeds_list_export_check_and_summarize_print_no_escapes(
    tmp_path: Path, redis_url: str, handle: RedisHandle
) -> None:
    env = cli_env(tmp_path, NEWSBOT_REDIS_URL=redis_url)
    code, _, err = await newsbot("feeds", "add", "https://one.example.com/feed", env=env)
    assert code == 0, err
    # As an older version could have stored them, from a feed and from a server's error.
    await handle.client.hset(
        handle.keys.feed("f1"),
        mapping={"title": "Evil\x1b]8;;x\x07 \u202efeed", "failures": 1, "last_error": "\x1bc\x9b"},
    )
    exported = tmp_path / "out.opml"
    for command in (("feeds", "list"), ("check",), ("feeds", "export", "-o", str(exported))):
        code, out, err = await newsbot(*command, env=env)
        assert "\x1b" not in out + err and "\x9b" not in out + err, command
    assert "Evil" in exported.read_text()
    ElementTree.parse(exported)  # valid XML: no control characters in it
    code, out, err = await newsbot(
        "summarize", "-", env=env, stdin=b"Headline\x1b[2J\n\nFirst line\x1b]0;pwned\x07 of text."
    )
    assert code == 0, err
    assert "\x1b" not in out + err and "\x07" not in out


async def test_a_feed_of_thin_items_whose_pages_never_answer_costs_one_deadline(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    """200 thin items linking to pages that hang: at most NEWSBOT_ENRICH_MAX_PER_POLL page
    fetches are tried, two at a time on one host, and a host that timed out is skipped."""
    url = thin_feed(feed_server, "/page", count=200, delay=15)
    code, out, err = await asyncio.wait_for(
        newsbot("digest", url, "--format", "json", env=cli_env(tmp_path)), timeout=120
    )
    assert code == 0, err
    document = json.loads(out)
    assert len(document["items"]) == 200 and document["stats"]["unenriched"] == 200
    tried = sum(count for path, count in feed_server.hits.items() if path.startswith("/page/"))
    assert 1 <= tried <= 2, tried


async def test_sigterm_during_a_digest_leaves_no_redis_or_temporary_folder(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    url = thin_feed(feed_server, "/slow", count=3, delay=6)
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "digest",
        url,
        env=cli_env(tmp_path, TMPDIR=str(scratch)),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    # SIGTERM as soon as the digest starts its Redis: the worst moment, mid-start.
    for _ in range(400):
        if list(scratch.glob("newsbot-*")):
            break
        await asyncio.sleep(0.01)
    assert list(scratch.glob("newsbot-*")), "the embedded Redis is starting"
    process.send_signal(signal.SIGTERM)
    _out, err = await asyncio.wait_for(process.communicate(), timeout=30)
    assert process.returncode == 143, err.decode()
    assert "Traceback" not in err.decode()
    assert _processes_mentioning(str(scratch)) == [], "no redis-server left running"
    assert list(scratch.iterdir()) == [], "no temporary folder (or Redis socket) left behind"


def _processes_mentioning(text: str) -> list[str]:
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            command = cmdline.read_bytes().decode(errors="replace")
        except OSError:
            continue  # it ended meanwhile
        if text in command:
            found.append(command)
    return found


def thin_feed(server: FeedServer, pages: str, *, count: int, delay: float) -> str:
    """A feed of `count` thin items whose article pages answer after `delay` seconds."""
    for n in range(count):
        server.add(f"{pages}/{n}", "<html>late</html>", delay=delay)
    items = [
        {
            "title": f"Item {n}",
            "link": server.url(f"{pages}/{n}"),
            "guid": str(n),
            "description": "Read more.",
        }
        for n in range(count)
    ]
    return server.add("/thin.xml", rss("Thin", items))
