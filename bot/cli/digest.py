"""`newsbot digest`: a one-shot digest of some sources, printed in the format asked for."""

from __future__ import annotations

import argparse
import sys

from rich.console import Console
from rich.progress import Progress

from bot.app import address_policy
from bot.cli.digest_build import run_digest
from bot.cli.digest_formats import RENDERERS
from bot.cli.exits import EXIT_FAILED, EXIT_OK
from bot.cli.summarize import summary_budget
from bot.net.fetch import Fetcher
from bot.settings import Settings


async def digest_command(args: argparse.Namespace, settings: Settings) -> int:
    budget = summary_budget(args.sentences)
    show_progress = sys.stderr.isatty() and len(args.sources) > 1
    async with Fetcher(policy=address_policy(settings)) as fetcher:
        if show_progress:
            with Progress(transient=True, console=Console(stderr=True)) as bar:
                task = bar.add_task("fetching", total=len(args.sources))
                result = await run_digest(
                    settings,
                    args.sources,
                    fetcher=fetcher,
                    budget=budget,
                    progress=lambda _s: bar.advance(task),
                )
        else:
            result = await run_digest(settings, args.sources, fetcher=fetcher, budget=budget)
    if not result.feeds and result.errors and args.format != "json":
        # Every source failed: the errors alone, not an empty digest above them.
        for failure in result.errors:
            print(f"error: {failure.source}: {failure.error}", file=sys.stderr)
        return EXIT_FAILED
    items = result.items[: args.max_items] if args.max_items else result.items
    print(RENDERERS[args.format](result, items))
    return EXIT_OK if result.entries else EXIT_FAILED
