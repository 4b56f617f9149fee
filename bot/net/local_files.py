"""Reading a user's local input (a file, or `-` for standard input) with a size limit."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from bot.errors import SourceError


def _read(source: str, limit: int) -> bytes:
    if source == "-":
        data = sys.stdin.buffer.read(limit + 1)
    else:
        path = Path(source).expanduser()
        if not path.is_file():
            raise SourceError("no such file, and not an http(s) URL")
        try:
            with path.open("rb") as handle:
                data = handle.read(limit + 1)
        except OSError as exc:
            raise SourceError(f"cannot read file: {exc.strerror or exc}") from exc
    if len(data) > limit:
        raise SourceError(f"larger than {limit // (1024 * 1024)} MB")
    return data


async def read_local(source: str, *, limit: int) -> bytes:
    """The bytes of a file (or stdin for `-`), at most `limit`; `SourceError` otherwise."""
    return await asyncio.to_thread(_read, source, limit)


def file_url(source: str) -> str:
    """The file:// URL that relative links in a local document resolve against."""
    return Path(source).expanduser().resolve().as_uri()
