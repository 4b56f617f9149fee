"""`newsbot outbox list|retry|drop [ID|CHANNEL]`: held channels and dead letters.

`list` shows every held channel (why, since when, how much waits) and every dead letter
(its id, channel, reason and attempts). `retry` queues dead letters again, from their first
attempt, and asks held channels for a probe now; `drop` deletes dead letters. Both take a
dead letter's id, a channel (all of its dead letters), or ``all``.
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import UTC, datetime

from bot.cli.exits import EXIT_OK, EXIT_USAGE
from bot.settings import Settings
from bot.store.connection import open_redis
from bot.store.holds import DeadLetter, HoldStore, platform_of
from handlers.channels import PLATFORMS


def add_outbox_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    outbox = commands.add_parser(
        "outbox", help="see held channels and dead letters; retry or drop dead letters"
    )
    actions = outbox.add_subparsers(dest="outbox_command", required=True, metavar="ACTION")
    actions.add_parser("list", help="held channels and dead letters")
    for name, what in (("retry", "queue dead letters again"), ("drop", "delete dead letters")):
        action = actions.add_parser(name, help=what)
        action.add_argument(
            "target",
            nargs="?",
            default="all",
            metavar="ID|CHANNEL",
            help="a dead letter's id, or a channel (all of its dead letters); default: all",
        )


def _when(moment: float) -> str:
    return datetime.fromtimestamp(moment, UTC).strftime("%Y-%m-%d %H:%M UTC")


def _describe(letter: DeadLetter) -> str:
    return (
        f"  {letter.id}  {letter.channel}  {_when(letter.at)}  {letter.attempts} attempts  "
        f"{letter.fields.get('kind', '?')} {letter.delivery}: {letter.reason}"
    )


async def outbox_command(args: argparse.Namespace, settings: Settings) -> int:
    async with open_redis(settings) as handle:
        holds = HoldStore(handle.client, handle.keys, ttl=settings.retention_seconds)
        letters = [letter for p in PLATFORMS for letter in await holds.dead_letters(p)]
        if args.outbox_command == "list":
            held = await holds.all_held(PLATFORMS)
            print(f"held channels: {len(held)}")
            for channel, hold in sorted(held.items()):
                days = (time.time() - hold.since) / 86400
                print(
                    f"  {channel}  since {_when(hold.since)} ({days:.1f} days), "
                    f"{hold.waiting} deliveries held: {hold.reason}"
                )
            print(f"dead letters: {len(letters)}")
            for letter in letters:
                print(_describe(letter))
            if letters:
                print("retry with: newsbot outbox retry ID|CHANNEL|all (drop: the same)")
            return EXIT_OK
        target = args.target
        chosen = [letter for letter in letters if target in ("all", letter.id, letter.channel)]
        asked = 0
        if args.outbox_command == "retry":
            channels = [target] if ":" in target else []
            if target == "all":
                channels = list(await holds.all_held(PLATFORMS))
            asked = await holds.probe_now(channels)
        if not chosen and not asked:
            if target == "all":
                print(
                    "no dead letters"
                    + (" or held channels" if args.outbox_command == "retry" else "")
                )
                return EXIT_OK
            print(f"newsbot: no dead letter or held channel matches {target!r}", file=sys.stderr)
            return EXIT_USAGE
        for letter in chosen:
            platform = platform_of(letter.channel)
            if args.outbox_command == "retry":
                await holds.retry_dead(letter, platform)
            else:
                await holds.drop_dead(letter, platform)
        done = "queued again" if args.outbox_command == "retry" else "dropped"
        print(f"{len(chosen)} dead letter{'s' if len(chosen) != 1 else ''} {done}")
        if asked:
            print(f"{asked} held channel{'s' if asked != 1 else ''} will be probed now")
        return EXIT_OK
