"""`newsbot console` end to end: typed commands, replies, and the deliveries they cause."""

from __future__ import annotations

import asyncio
import io
import subprocess
import sys
from pathlib import Path

from bot.cli.console import run_console
from bot.settings import Settings
from tests.bot.cli.test_cli import cli_env
from tests.bot.commands.test_core import feed
from tests.fakes.feed_server import FeedServer


def lines_of(*lines: str):  # type: ignore[no-untyped-def]
    queue = list(lines)

    async def read_line() -> str | None:
        return queue.pop(0) if queue else None

    return read_line


async def test_commands_answer_and_their_work_finishes_before_exit(
    settings: Settings, feed_server: FeedServer
) -> None:
    url = feed_server.add("/daily.xml", feed(7))
    out, err = io.StringIO(), io.StringIO()
    status = await asyncio.wait_for(
        run_console(
            settings,
            read_line=lines_of(
                "# a comment, skipped",
                f"/news subscribe {url} instant",
                "",
                "latest 1",
                "subscribe not-a-url",
            ),
            out=out,
            err=err,
        ),
        timeout=90,
    )
    text = out.getvalue()
    assert status == 0, err.getvalue()
    assert "found 7 stories" in text
    posted = [line for line in text.splitlines() if line.startswith("Story ")]
    # The five newest of the first fetch, oldest first, printed before the next reply.
    assert [line.split(":")[0] for line in posted[:5]] == [f"Story {n}" for n in range(3, 8)]
    assert text.index("Story 7") < text.index("The 1 newest stories")
    assert "is not a feed address" in text and "usage: /news subscribe" in text


def test_newsbot_console_reads_standard_input(tmp_path: Path) -> None:
    env = cli_env(tmp_path)
    result = subprocess.run(
        [sys.executable, "-m", "bot", "console"],
        input="/news help\n/news feeds\n",
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "/news subscribe <feed url>" in result.stdout
    assert "This channel has no feeds yet" in result.stdout
    assert "Traceback" not in result.stderr


async def test_a_digest_subscription_then_digest_now_prints_the_digest(
    settings: Settings, feed_server: FeedServer
) -> None:
    url = feed_server.add("/daily.xml", feed(3))
    out = io.StringIO()
    status = await asyncio.wait_for(
        run_console(
            settings,
            read_line=lines_of(f"/news subscribe {url}", "/news digest", "/news digest"),
            out=out,
            err=io.StringIO(),
        ),
        timeout=90,
    )
    text = out.getvalue()
    assert status == 0
    assert "go into the next digest (daily 09:00 UTC, next" in text
    assert "Posting a digest of 3 stories now" in text
    heading = text.index("[console:local:main] News digest")
    assert all(text.index(f"Story {n}:") > heading for n in (1, 2, 3))
    assert "Nothing new since the last digest" in text, "the second digest starts a new window"
