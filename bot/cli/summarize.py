"""`newsbot summarize`: one article from a URL, a file or standard input."""

from __future__ import annotations

import argparse
import json
import sys

import aiohttp

from bot.app import address_policy
from bot.cli.exits import EXIT_OK
from bot.commands.article_summary import read_source, summarize_document
from bot.net.fetch import Fetcher
from bot.roles.llm_summarizer import LLMSummarizer
from bot.settings import Settings
from bot.store.connection import open_redis
from handlers.summarize import DEFAULT_MAX_CHARS, Budget


def summary_budget(sentences: int) -> Budget:
    """The summary budget for `--sentences N`: N sentences, with room for long ones."""
    return Budget(sentences=sentences, chars=max(DEFAULT_MAX_CHARS, 200 * sentences))


async def summarize_command(args: argparse.Namespace, settings: Settings) -> int:
    budget = summary_budget(args.sentences)
    async with Fetcher(policy=address_policy(settings)) as fetcher:
        data, url = await read_source(args.source, fetcher)
    if settings.llm_url and settings.llm_model:
        async with open_redis(settings) as handle, aiohttp.ClientSession() as session:
            llm = LLMSummarizer(
                settings=settings, client=handle.client, keys=handle.keys, session=session
            )
            summary = await summarize_document(
                data, source=args.source, url=url, budget=budget, abstractive=llm
            )
    else:
        summary = await summarize_document(data, source=args.source, url=url, budget=budget)
    if args.format == "json":
        print(
            json.dumps(
                {
                    "source": summary.source,
                    "title": summary.title,
                    "summary": summary.summary,
                    "method": summary.method,
                    "words": summary.words,
                },
                ensure_ascii=False,
                indent=2,
            )
        )
    else:
        if summary.title:
            print(summary.title)
        print(summary.summary)
        print(f"({summary.method} summary of {summary.words} words)", file=sys.stderr)
    return EXIT_OK
