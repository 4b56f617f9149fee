"""The `newsbot` command line (contract in docs/contracts.md)."""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
from collections.abc import Sequence
from pathlib import Path

from bot import __version__
from bot.app import ROLES, install_signal_handlers, run_bot
from bot.cli.backup import backup_command, restore_command
from bot.cli.check import check_command
from bot.cli.console import run_console, stdin_reader
from bot.cli.copy_data import copy_data_command
from bot.cli.dashboard import dashboard_command
from bot.cli.digest import digest_command
from bot.cli.digest_formats import RENDERERS
from bot.cli.exits import EXIT_FAILED, EXIT_OK, EXIT_TERMINATED, EXIT_USAGE
from bot.cli.feeds import run_feeds_command
from bot.cli.outbox import add_outbox_parser, outbox_command
from bot.cli.summarize import summarize_command
from bot.errors import ConfigError, NewsbotError
from bot.logging_setup import configure_logging
from bot.roles.config_apply import ConfigPlan, plan_config
from bot.settings import Settings, load_settings
from handlers.channels import ChannelError, ChannelRef


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _channel(text: str) -> ChannelRef:
    try:
        return ChannelRef.parse(text)
    except ChannelError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _channel_option(parser: argparse.ArgumentParser, help_text: str) -> None:
    parser.add_argument(
        "--channel", type=_channel, metavar="PLATFORM:WORKSPACE:CHANNEL", help=help_text
    )


def _roles(text: str) -> tuple[str, ...]:
    roles = tuple(r.strip() for r in text.split(",") if r.strip())
    unknown = [r for r in roles if r not in ROLES]
    if unknown or not roles:
        raise argparse.ArgumentTypeError(
            f"unknown role(s): {', '.join(unknown) or '(none)'}; choose from {', '.join(ROLES)}"
        )
    return roles


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="newsbot",
        description="Self-hosted news digests: watch feeds, fold duplicates, summarise, post.",
    )
    parser.add_argument("--version", action="version", version=f"newsbot {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    digest = commands.add_parser(
        "digest", help="print a one-shot digest of feeds (URLs, feed files or OPML files)"
    )
    digest.add_argument("sources", nargs="+", metavar="SOURCE")
    digest.add_argument("--format", choices=sorted(RENDERERS), default="text")
    digest.add_argument(
        "--max-items", type=_positive_int, metavar="N", help="show at most N stories (default: all)"
    )
    digest.add_argument(
        "--sentences",
        type=_positive_int,
        default=3,
        metavar="N",
        help="sentences per summary (default: 3)",
    )

    summarize = commands.add_parser("summarize", help="summarise one article (URL, file or -)")
    summarize.add_argument("source", nargs="?", default="-", metavar="URL|FILE|-")
    summarize.add_argument("--sentences", type=_positive_int, default=3, metavar="N")
    summarize.add_argument("--format", choices=("text", "json"), default="text")

    run = commands.add_parser("run", help="run the bot: poll feeds and process entries")
    run.add_argument(
        "--roles",
        type=_roles,
        default=ROLES,
        help=f"comma-separated roles to run (default: {','.join(ROLES)})",
    )

    commands.add_parser(
        "console",
        help="type /news commands at a prompt (as console:local:main, with admin rights)",
        description="Runs the bot and reads /news commands, one per line, until end of input; "
        "deliveries print here. Try: /news help",
    )

    feeds = commands.add_parser("feeds", help="manage the watch list")
    feed_commands = feeds.add_subparsers(dest="feeds_command", required=True, metavar="ACTION")
    add = feed_commands.add_parser("add", help="watch a feed URL")
    add.add_argument("url")
    _channel_option(add, "also subscribe this channel, e.g. console:local:main")
    add.add_argument(
        "--mode",
        choices=("digest", "instant"),
        help="with --channel: a digest on the channel's schedule (default) or each story at once",
    )
    add.add_argument(
        "--filter",
        metavar="QUERY",
        help='with --channel: only stories matching QUERY, e.g. "ukraine -sport"',
    )
    add.add_argument(
        "--interval",
        type=float,
        metavar="SECONDS",
        help="poll this feed every SECONDS instead of NEWSBOT_POLL_INTERVAL",
    )
    remove = feed_commands.add_parser("remove", help="stop watching a feed (id or URL)")
    remove.add_argument("feed", metavar="ID|URL")
    listing = feed_commands.add_parser("list", help="list watched feeds with their health")
    listing.add_argument("--format", choices=("text", "json"), default="text")
    _channel_option(listing, "only this channel's feeds, with their modes and filters")
    importer = feed_commands.add_parser("import", help="watch every feed of an OPML file")
    importer.add_argument("file", type=Path)
    _channel_option(importer, "also subscribe this channel to every feed imported")
    exporter = feed_commands.add_parser("export", help="write the watch list as OPML 2.0")
    exporter.add_argument("-o", "--output", type=Path, help="file to write (default: stdout)")

    add_outbox_parser(commands)
    commands.add_parser("check", help="diagnose settings, Redis and chat tokens")
    commands.add_parser(
        "dashboard", help="print a one-time link to the managers' web page, as the operator"
    )
    backup = commands.add_parser(
        "backup", help="a consistent snapshot of the embedded Redis, while newsbot runs"
    )
    backup.add_argument("file", type=Path, help="where to write the snapshot")
    restore = commands.add_parser(
        "restore", help="load a backup into an empty data dir (newsbot stopped)"
    )
    restore.add_argument("file", type=Path, help="a file `newsbot backup` wrote")
    copy = commands.add_parser(
        "copy-data",
        help="copy newsbot's data into another Redis or a Redis Cluster (newsbot stopped)",
    )
    copy.add_argument(
        "--to", required=True, metavar="URL", help="the target, e.g. redis://node1:6379"
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        settings = load_settings()
        plan = plan_config(settings) if args.command in {"run", "check", "console"} else None
    except ConfigError as exc:
        print(f"newsbot: {exc}", file=sys.stderr)
        return EXIT_USAGE
    quiet = args.command in {"digest", "summarize", "feeds", "console", "outbox", "dashboard"}
    configure_logging(
        "warning" if quiet and settings.log_level == "info" else settings.log_level,
        settings.log_format,
    )
    try:
        return asyncio.run(_stoppable(args, settings, plan))
    except NewsbotError as exc:
        print(f"newsbot: {exc}", file=sys.stderr)
        return EXIT_FAILED
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # The reader went away (`newsbot digest … | head`): stop quietly, as Unix tools do.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141


async def _stoppable(args: argparse.Namespace, settings: Settings, plan: ConfigPlan | None) -> int:
    """Run the command; SIGTERM cancels it at its next await, as Ctrl-C does, so its embedded
    Redis and temporary folder are cleaned up on the way out (exit 143). `run` and `console`
    put their own handler in place: they stop their roles."""
    loop = asyncio.get_running_loop()
    task = asyncio.current_task()
    terminated = False

    def terminate() -> None:
        nonlocal terminated
        if not terminated and task is not None:
            terminated = True
            task.cancel()

    loop.add_signal_handler(signal.SIGTERM, terminate)
    try:
        return await _dispatch(args, settings, plan)
    except asyncio.CancelledError:
        if terminated:
            return EXIT_TERMINATED
        raise
    finally:
        loop.remove_signal_handler(signal.SIGTERM)


async def _dispatch(args: argparse.Namespace, settings: Settings, plan: ConfigPlan | None) -> int:
    if args.command == "digest":
        return await digest_command(args, settings)
    if args.command == "summarize":
        return await summarize_command(args, settings)
    if args.command == "run":
        stop = asyncio.Event()
        install_signal_handlers(stop)
        await run_bot(settings, roles=args.roles, stop=stop, plan=plan)
        return EXIT_OK
    if args.command == "feeds":
        return await run_feeds_command(args, settings)
    if args.command == "outbox":
        return await outbox_command(args, settings)
    if args.command == "backup":
        return await backup_command(settings, args.file)
    if args.command == "restore":
        return await restore_command(settings, args.file)
    if args.command == "copy-data":
        return await copy_data_command(settings, args.to)
    if args.command == "dashboard":
        return await dashboard_command(settings)
    if args.command == "console":
        return await run_console(
            settings, read_line=stdin_reader(sys.stdin, sys.stdout), out=sys.stdout, plan=plan
        )
    return await check_command(settings, plan)
