"""The README as a new user meets it: every `newsbot` command its shell blocks show that
needs no network, credentials or running daemon is run as written, in a fresh data
directory, in the order the README gives them. None may fail to parse (exit 2) or print a
traceback, and where the README shows a command's output (the ``# …`` lines right under
it), the first line printed must be the first line shown (issue #28)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
NEWSBOT = Path(sys.executable).parent / "newsbot"
# Written as a shape, not a command to run: placeholders and options in brackets.
PLACEHOLDER = re.compile(r"…|SOURCE|\bFILE\b|\bURL\b|\[|--to ")
# Commands that run until stopped, change another Redis, or restore over the data.
NOT_RUN = ("newsbot run", "newsbot copy-data", "newsbot restore")


@dataclass(frozen=True)
class Example:
    line: int
    command: str
    shown: str  # the first output line the README shows under it, or ""


def needs_network(command: str) -> bool:
    """A command that fetches (an http(s) address to digest, summarize or import) or
    runs another program that does. Adding a feed by its address fetches nothing."""
    if "curl " in command or "docker" in command:
        return True
    adds = " feeds add " in f" {command} "
    return not adds and bool(re.search(r"(?<![\w:/])https?://", command.split("|")[-1]))


def examples(text: str) -> tuple[list[Example], list[tuple[int, str]]]:
    """The README's runnable `newsbot` commands, and those left out with why."""
    runnable: list[Example] = []
    left_out: list[tuple[int, str]] = []
    for block in re.finditer(r"```sh\n(.*?)```", text, re.S):
        first = text[: block.start()].count("\n") + 2
        lines = [line.strip() for line in block.group(1).splitlines()]
        if any(line.startswith("export ") for line in lines):
            left_out.append((first, "needs credentials (the block exports them)"))
            continue
        for number, line in enumerate(lines):
            command = line.split("  #", 1)[0].strip()
            if "newsbot " not in command or command.startswith("#"):
                continue
            where = first + number
            if not command.startswith(("newsbot ", "printf ")) or needs_network(command):
                left_out.append((where, "reaches the network or another program"))
            elif PLACEHOLDER.search(command):
                left_out.append((where, "a shape with placeholders"))
            elif command.startswith(NOT_RUN):
                left_out.append((where, "a daemon, or writes where it should not here"))
            else:
                after = lines[number + 1] if number + 1 < len(lines) else ""
                shown = after[2:] if after.startswith("# ") else ""
                runnable.append(Example(where, command, shown))
    return runnable, left_out


def test_the_readme_shows_runnable_commands_of_each_kind() -> None:
    runnable, _ = examples(README.read_text("utf-8"))
    commands = " ".join(example.command for example in runnable)
    for kind in ("newsbot digest examples/", "newsbot feeds add", "| newsbot console", "check"):
        assert kind in commands, f"the README lost its {kind!r} example"
    assert sum(1 for example in runnable if example.shown) >= 4


def test_every_runnable_readme_command_works_as_shown(tmp_path: Path) -> None:
    runnable, _ = examples(README.read_text("utf-8"))
    (tmp_path / "examples").symlink_to(ROOT / "examples")
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("NEWSBOT_", "SLACK_", "DISCORD_"))
    }
    env |= {
        "PATH": f"{NEWSBOT.parent}{os.pathsep}{env.get('PATH', '')}",
        "NEWSBOT_DATA_DIR": str(tmp_path / "data"),
        "NEWSBOT_HTTP_PORT": "0",
    }
    problems = []
    for example in runnable:
        done = subprocess.run(
            ["bash", "-c", example.command],
            cwd=tmp_path,
            env=env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=120,
        )
        said = done.stdout + done.stderr
        first = next((line for line in done.stdout.splitlines() if line.strip()), "")
        if done.returncode == 2 or "Traceback" in said:
            problems.append(f"README line {example.line}: {example.command}: {said[-500:]}")
        elif example.shown and first != example.shown:
            problems.append(
                f"README line {example.line}: {example.command}: prints {first!r}, "
                f"the README shows {example.shown!r}"
            )
    assert problems == [], "\n".join(problems)


@pytest.mark.parametrize(
    ("command", "kept"),
    [
        ("newsbot digest examples/feed.xml --max-items 2", True),
        ("newsbot digest https://example.com/feed.xml", False),
        ("newsbot feeds add https://example.com/feed.xml --channel console:local:main", True),
        ("curl -s https://example.com/article | newsbot summarize -", False),
        ("newsbot backup FILE", False),
        ("newsbot run", False),
    ],
)
def test_the_readme_commands_are_sorted_as_meant(command: str, kept: bool) -> None:
    runnable, left_out = examples(f"```sh\n{command}\n```\n")
    assert (bool(runnable), bool(left_out)) == (kept, not kept)
