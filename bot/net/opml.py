"""OPML 2.0: reading subscription lists (listparser) and writing the watch list out."""

from __future__ import annotations

import email.utils
import xml.etree.ElementTree as ET
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

import listparser

from bot.errors import SourceError
from handlers.safe_text import one_line, printable


@dataclass(frozen=True)
class OutlineFeed:
    """One feed of an OPML file."""

    url: str
    title: str = ""


def is_opml(data: bytes) -> bool:
    """True when the document's root element looks like ``<opml>``."""
    head = data[:2048].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    return b"<opml" in head


def read_opml(data: bytes) -> list[OutlineFeed]:
    """The feeds an OPML document lists, in order, each URL once."""
    result = listparser.parse(bytes(data))
    feeds = result.get("feeds") or []
    if not feeds and result.get("bozo"):
        raise SourceError(f"unreadable OPML: {result.get('bozo_exception')}")
    seen: set[str] = set()
    out: list[OutlineFeed] = []
    for feed in feeds:
        url = str(feed.get("url") or "").strip()
        if url and url not in seen:
            seen.add(url)
            out.append(OutlineFeed(url, str(feed.get("title") or "")))
    return out


def write_opml(feeds: Iterable[OutlineFeed], *, title: str, now: datetime) -> str:
    """An OPML 2.0 document listing `feeds` (ElementTree escapes every value)."""
    root = ET.Element("opml", version="2.0")
    head = ET.SubElement(root, "head")
    ET.SubElement(head, "title").text = title
    ET.SubElement(head, "dateCreated").text = email.utils.format_datetime(now)
    body = ET.SubElement(root, "body")
    for feed in feeds:
        # Control characters are not XML: a feed's title must not make the file unreadable.
        text = one_line(feed.title or feed.url)
        url = printable(feed.url)
        ET.SubElement(body, "outline", type="rss", text=text, title=text, xmlUrl=url)
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"
