"""Printing a one-shot digest: plain text, Markdown, the JSON contract of docs/contracts.md, or the
exact Slack or Discord message payloads that would be sent."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Any

from bot.cli.digest_build import DigestResult
from bot.render.discord_embeds import render_discord
from bot.render.plain import format_item
from bot.render.slack_blocks import render_slack
from bot.render.terminal import render_digest_terminal
from bot.render.text_limits import safe_url, when
from handlers.digest import Digest
from handlers.story import DigestItem


def _iso(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def digest_json(result: DigestResult, items: list[DigestItem]) -> dict[str, Any]:
    """The `--format json` document: generated_at, items (capped) and stats (uncapped)."""
    return {
        "generated_at": _iso(result.generated_at),
        "items": [
            {
                "id": item.id,
                "title": item.title,
                "url": item.url,
                "source": item.source,
                "published": _iso(item.published),
                "summary": item.summary,
                "outlets": item.outlets,
                "also": [{"title": c.title, "url": c.url, "source": c.source} for c in item.also],
            }
            for item in items
        ],
        "stats": {
            "feeds": result.feeds,
            "entries": result.entries,
            "duplicates": result.duplicates,
            "unenriched": result.unenriched,
            "errors": [{"source": e.source, "error": e.error} for e in result.errors],
        },
    }


def render_json(result: DigestResult, items: list[DigestItem]) -> str:
    return json.dumps(digest_json(result, items), ensure_ascii=False, indent=2)


def _count(number: int, singular: str, plural: str | None = None) -> str:
    return f"{number} {singular if number == 1 else plural or singular + 's'}"


def _footer(result: DigestResult, shown: int) -> list[str]:
    line = (
        f"{shown} of {_count(len(result.items), 'story', 'stories')} from "
        f"{_count(result.feeds, 'feed')}; {_count(result.entries, 'entry', 'entries')}, "
        f"{result.duplicates} folded as duplicates"
    )
    lines = [line]
    if result.unenriched:
        lines.append(
            f"{_count(result.unenriched, 'thin item')} summarised from the feed's own text "
            "(article page not read: over NEWSBOT_ENRICH_MAX_PER_POLL, failed or too slow)"
        )
    lines += [f"error: {e.source}: {e.error}" for e in result.errors]
    return lines


def render_text(result: DigestResult, items: list[DigestItem]) -> str:
    """Plain text for a terminal or a pipe: one block per story."""
    blocks = [format_item(item) for item in items]
    blocks.append("\n".join(_footer(result, len(items))))
    return "\n\n".join(blocks)


_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+!|<>~])")


def md_escape(text: str) -> str:
    """Escape Markdown syntax in feed text so it shows literally."""
    return _MD_SPECIAL.sub(r"\\\1", text)


def _md_link(text: str, url: str) -> str:
    target = safe_url(url)  # http(s) only: never a javascript: or data: link
    if not target:
        return md_escape(text)
    return f"[{md_escape(text)}](<{target.replace('>', '%3E')}>)"


def render_markdown(result: DigestResult, items: list[DigestItem]) -> str:
    """Markdown: a heading, then one list item per story."""
    lines = [f"# News digest, {when(result.generated_at)}", ""]
    for item in items:
        lines.append(f"- **{_md_link(item.title, item.url)}**  ")
        lines.append(f"  {md_escape(item.byline(when(item.published)))}  ")
        if item.summary:
            lines.append(f"  {md_escape(item.summary)}")
        for copy in item.also:
            lines.append(f"  - also: {md_escape(copy.source)} – {_md_link(copy.title, copy.url)}")
    lines.append("")
    lines += [f"_{md_escape(line)}_  " for line in _footer(result, len(items))]
    return "\n".join(lines)


def as_digest(result: DigestResult, items: list[DigestItem]) -> Digest:
    """The platform-neutral digest of a one-shot run (the stories shown, and how many not)."""
    heading = f"News digest, {when(result.generated_at)}"
    return Digest(heading, tuple(items), result.generated_at, more=len(result.items) - len(items))


def render_terminal(result: DigestResult, items: list[DigestItem]) -> str:
    """Colour and clickable links for a terminal (rich), then the same footer as text."""
    footer = "\n".join(_footer(result, len(items)))
    return f"{render_digest_terminal(as_digest(result, items))}\n\n{footer}"


def render_slack_payloads(result: DigestResult, items: list[DigestItem]) -> str:
    return json.dumps(render_slack(as_digest(result, items)), ensure_ascii=False, indent=2)


def render_discord_payloads(result: DigestResult, items: list[DigestItem]) -> str:
    return json.dumps(render_discord(as_digest(result, items)), ensure_ascii=False, indent=2)


RENDERERS = {
    "text": render_text,
    "markdown": render_markdown,
    "terminal": render_terminal,
    "json": render_json,
    "slack": render_slack_payloads,
    "discord": render_discord_payloads,
}
