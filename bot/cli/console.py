"""`newsbot console`: type `/news …` commands at a prompt, as a channel's manager would.

The console runs the whole bot (poller, pipeline, scheduler, and deliveries printed here)
on the same Redis as `newsbot run`, and answers each line through the command core that
Slack and Discord use, as the channel ``console:local:main`` with admin rights. It reads
until end of input; after each command it waits until the work the command started (a new
feed's stories going through the pipeline, a digest being delivered) is done, so
``newsbot console < commands.txt`` prints every reply and delivery before it exits.
"""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import Awaitable, Callable
from typing import TextIO

from redis.asyncio import Redis

from bot.app import RunningBot, run_bot
from bot.commands.caller import Caller
from bot.platforms.console_adapter import is_terminal
from bot.render.plain import format_reply
from bot.render.terminal import render_reply_terminal
from bot.roles.config_apply import ConfigPlan
from bot.settings import Settings
from bot.store.keys import Keys
from handlers.channels import ChannelRef
from handlers.reply import Reply

CONSOLE_CHANNEL = ChannelRef("console", "local", "main")
PROMPT = "news> "
IDLE_TIMEOUT = 120.0
EXIT_WORDS = {"quit", "exit", "/quit", "/exit"}

ReadLine = Callable[[], Awaitable[str | None]]


def stdin_reader(stdin: TextIO, out: TextIO) -> ReadLine:
    """Read lines in a thread (stdin blocks); a prompt is shown on a terminal only."""
    interactive = is_terminal(stdin) and is_terminal(out)

    def read() -> str | None:
        if interactive:
            try:
                return input(PROMPT)
            except EOFError:
                return None
        line = stdin.readline()
        return line if line else None

    async def read_line() -> str | None:
        return await asyncio.to_thread(read)

    return read_line


async def wait_idle(
    client: Redis, keys: Keys, *, patience: float = IDLE_TIMEOUT, err: TextIO | None = None
) -> bool:
    """Wait until no entry waits for the pipeline and no delivery for the console."""
    started = time.monotonic()
    told = 0.0
    while True:
        entries = await client.xlen(keys.entries)
        deliveries = await client.xlen(keys.outbox("console"))
        if not entries and not deliveries:
            return True
        waited = time.monotonic() - started
        if waited > patience:
            return False
        if err is not None and waited - told >= 3.0:
            told = waited
            err.write(f"… working: {entries} entries, {deliveries} deliveries to go\n")
            err.flush()
        await asyncio.sleep(0.1)


def show(reply: Reply, out: TextIO) -> None:
    color = is_terminal(out) and reply.style.name == "standard"  # colour: the standard layout
    out.write((render_reply_terminal(reply, color=True) if color else format_reply(reply)) + "\n\n")
    out.flush()


async def run_console(
    settings: Settings,
    *,
    read_line: ReadLine,
    out: TextIO,
    err: TextIO = sys.stderr,
    plan: ConfigPlan | None = None,
) -> int:
    """Run the prompt until end of input; return the exit status (0, or 1 if work timed out)."""
    stop = asyncio.Event()
    status = 0

    async def session(bot: RunningBot) -> None:
        nonlocal status
        core = bot.command_core(settings)
        caller = Caller(CONSOLE_CHANNEL, user="console", admin=True, public=True)
        if is_terminal(out):
            out.write("newsbot console: type /news help for the commands, quit to leave.\n")
        try:
            while (line := await read_line()) is not None:
                text = line.strip()
                if not text or text.startswith("#"):
                    continue
                if text.lower() in EXIT_WORDS:
                    break
                show(await core.handle(caller, text), out)
                if not await wait_idle(bot.handle.client, bot.handle.keys, err=err):
                    err.write("newsbot: gave up waiting for the pipeline; work stays queued\n")
                    status = 1
        finally:
            stop.set()

    await run_bot(
        settings,
        stop=stop,
        on_started=session,
        console_out=out,
        serve_http=False,
        plan=plan,
        console_only=True,
    )
    return status
