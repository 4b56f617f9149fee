"""Parsing fetched bytes into articles: RSS, Atom and RDF through feedparser, JSON Feed here.

feedparser only ever sees bytes we fetched, wrapped in a file object: given a bare bytes or
str it would fetch URLs or open local files itself.

The bozo policy: a feed that is not well-formed but still yields entries keeps them, and the
parse error becomes a warning on the feed; a document is an error only when it yields no
entries and is broken or is not a feed at all.

Entities a document declares itself (``<!ENTITY name "…">``) are expanded by feedparser's
loose parser without limit once expat has refused them, so a 700 KB feed can ask for
gigabytes. Before parsing, the expansion they would cause is added up (each declared
value's length times its references); past `MAX_ENTITY_EXPANSION`, or with entities that
refer to other entities, the document is refused with a per-feed error.
"""

from __future__ import annotations

import html
import io
import json
import logging
import re
import warnings
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from time import struct_time
from typing import Any
from urllib.parse import urljoin

import feedparser

from bot.errors import ParseError
from bot.net.fast_parse import Fallback, read_fast
from handlers.article import Article, short_hash
from handlers.redact import redact_url
from handlers.safe_text import neutral
from handlers.text import html_to_text, one_line

log = logging.getLogger(__name__)

_JSON_FEED_VERSION = "https://jsonfeed.org/version/"
MAX_ENTITY_EXPANSION = 1024 * 1024
_ENTITY_DECLARATION = re.compile(
    r"<!ENTITY\s+(%\s+)?([\w.:-]+)\s+(?:\"([^\"]*)\"|'([^']*)'|[^>]*)>", re.IGNORECASE
)


@dataclass
class ParsedFeed:
    """What one feed document gave: its title, its entries and any survivable warning."""

    title: str
    articles: list[Article] = field(default_factory=list)
    warning: str | None = None
    link: str = ""


@dataclass(frozen=True)
class FeedRef:
    """Which feed a document came from, for the articles it yields."""

    feed_id: str
    url: str
    title: str = ""


def parse_feed(
    data: bytes,
    ref: FeedRef,
    *,
    content_type: str = "",
    now: datetime | None = None,
    fast: bool = True,
) -> ParsedFeed:
    """Parse one fetched document into articles, or raise `ParseError` saying why not.

    RSS and Atom go through the fast path (`bot.net.fast_parse`) unless it hands the
    document to feedparser; `fast=False` always uses feedparser, the reference."""
    now = now or datetime.now(UTC)
    if _looks_like_json(data, content_type):
        return _parse_json_feed(data, ref, now)
    _check_entities(data)
    try:
        if not fast:
            raise Fallback("asked for feedparser")
        document = read_fast(data, ref.url, content_type)
    except Fallback as reason:
        log.debug("parsed with feedparser", extra={"feed_url": ref.url, "reason": str(reason)})
    else:
        return _articles(
            ref,
            now,
            title=_text_of(document.feed, "title"),
            language=str(document.feed.get("language") or "en"),
            link=str(document.feed.get("link") or ""),
            entries=document.entries,
            warning=None,
        )
    return _parse_with_feedparser(data, ref, content_type, now)


def _parse_with_feedparser(
    data: bytes, ref: FeedRef, content_type: str, now: datetime
) -> ParsedFeed:
    # Without a content type feedparser would read the bytes as Latin-1 (and flag the
    # feed): a document of unknown type is XML, whose declaration names its encoding.
    headers = {"content-location": ref.url, "content-type": content_type or "application/xml"}
    try:
        # Every piece of entry HTML becomes plain text in normalize (lxml, dropping scripts
        # and styles), so feedparser's own sanitizer and relative-link rewriting would be
        # work thrown away: they are three quarters of its parse time.
        parsed = feedparser.parse(
            io.BytesIO(data),
            response_headers=headers,
            sanitize_html=False,
            resolve_relative_uris=False,
        )
    except Exception as exc:  # feedparser can raise anything on hostile input
        raise ParseError(f"unreadable feed: {type(exc).__name__}: {exc}") from exc
    entries = parsed.get("entries") or []
    problem = _bozo_text(parsed)
    if not entries:
        if problem:
            raise ParseError(f"not a valid feed: {problem}")
        if not parsed.get("version"):
            raise ParseError("not a feed: no RSS, Atom or JSON Feed content found")
    feed = parsed.get("feed", {})
    with warnings.catch_warnings():
        # feedparser warns when `updated_parsed` falls back to `published_parsed`.
        warnings.simplefilter("ignore", DeprecationWarning)
        return _articles(
            ref,
            now,
            title=_text_of(feed, "title"),
            language=str(feed.get("language") or "en"),
            link=str(feed.get("link") or ""),
            entries=entries,
            warning=problem,
        )


def _articles(
    ref: FeedRef,
    now: datetime,
    *,
    title: str,
    language: str,
    link: str,
    entries: Sequence[Mapping[str, Any]],
    warning: str | None,
) -> ParsedFeed:
    """The articles of one parsed document, from its entries in feedparser's form
    (whichever parser read them); an entry that cannot be read is skipped and logged."""
    title = title or html.escape(ref.title or redact_url(ref.url), quote=False)
    source = html_unescape_line(title)
    articles = []
    for entry in entries:
        try:
            f = _feedparser_fields(entry)
        except Exception as exc:  # noqa: BLE001 - one odd entry must not lose the rest
            log.warning(
                "skipped an unreadable entry",
                extra={"feed_url": ref.url, "step": "parse", "error": repr(exc)},
            )
            continue
        articles.append(
            Article(
                feed_id=ref.feed_id,
                feed_url=ref.url,
                source=source,
                entry_key=_entry_key(f["guid"], f["url"], f["title"], f["published"]),
                language=language,
                seen_at=now,
                **f,
            )
        )
    return ParsedFeed(title=source, articles=articles, warning=warning, link=link)


def html_unescape_line(text: str) -> str:
    """A feed's title as shown: markup dropped, entities decoded, one line, no control or
    bidi characters."""
    return neutral(one_line(html_to_text(text)))


def _bozo_text(parsed: Mapping[str, Any]) -> str | None:
    if not parsed.get("bozo"):
        return None
    exc = parsed.get("bozo_exception")
    name = type(exc).__name__ if exc is not None else "error"
    detail = str(exc) if exc is not None else ""
    if name in {"CharacterEncodingOverride", "NonXMLContentType"}:
        return None  # harmless: feedparser recovered the encoding or ignored the header
    return f"{name}: {detail}".strip().rstrip(":")[:300]


def _as_text(data: bytes) -> str:
    """The document as text for a scan of its markup: UTF-16/32 by BOM or NULs, else a
    byte-for-byte decoding (entity names and markup are ASCII in every other encoding)."""
    head = data[:4]
    for bom, codec in (
        (b"\xff\xfe\x00\x00", "utf-32-le"),
        (b"\x00\x00\xfe\xff", "utf-32-be"),
        (b"\xff\xfe", "utf-16-le"),
        (b"\xfe\xff", "utf-16-be"),
    ):
        if head.startswith(bom):
            return data.decode(codec, errors="replace")
    if b"\x00" in head:
        codec = "utf-16-le" if head[1:2] == b"\x00" else "utf-16-be"
        return data.decode(codec, errors="replace")
    return data.decode("latin-1")


def _check_entities(data: bytes) -> None:
    """Refuse a document whose own entity declarations would expand past the limit."""
    wide = data[:2] in {b"\xff\xfe", b"\xfe\xff"} or b"\x00" in data[:4]
    if not wide and b"<!ENTITY" not in data and b"<!entity" not in data:
        return
    text = _as_text(data)
    total = 0
    for match in _ENTITY_DECLARATION.finditer(text):
        parameter, name = match[1], match[2]
        value = match[3] if match[3] is not None else match[4]
        if parameter or value is None:
            continue  # parameter and external entities: feedparser fetches and expands none
        if "&" in value or "%" in value:
            raise ParseError("refused: the feed declares entities that refer to other entities")
        total += len(value) * text.count(f"&{name};")
        if total > MAX_ENTITY_EXPANSION:
            raise ParseError(
                "refused: the feed's own XML entities would expand to more than "
                f"{MAX_ENTITY_EXPANSION // (1024 * 1024)} MB"
            )


def _looks_like_json(data: bytes, content_type: str) -> bool:
    head = data[:64].lstrip(b"\xef\xbb\xbf \t\r\n")
    return "json" in content_type.lower() or head.startswith(b"{")


def _text_of(mapping: Mapping[str, Any], key: str) -> str:
    """The value of `key` as HTML: text/plain values are escaped so normalize decodes them."""
    value = mapping.get(key)
    if not value:
        return ""
    detail = mapping.get(f"{key}_detail") or {}
    if str(detail.get("type", "text/html")) == "text/plain":
        return html.escape(str(value), quote=False)
    return str(value)


def _when(*candidates: Any) -> datetime | None:
    for candidate in candidates:
        if isinstance(candidate, struct_time):
            try:
                return datetime(*candidate[:6], tzinfo=UTC)
            except ValueError:
                continue
    return None


def _entry_key(guid: str, link: str, title: str, published: datetime | None) -> str:
    """guid, else link, else a hash of title and date: the entry's identity in its feed."""
    if guid.strip():
        return guid.strip()
    if link.strip():
        return link.strip()
    stamp = published.isoformat() if published else ""
    return "hash:" + short_hash(f"{title}\n{stamp}")


def _feedparser_fields(entry: Mapping[str, Any]) -> dict[str, Any]:
    link = str(entry.get("link") or "")
    contents = entry.get("content") or []
    content = max((str(c.get("value") or "") for c in contents), key=len, default="")
    if contents and str(contents[0].get("type", "text/html")) == "text/plain":
        content = html.escape(content, quote=False)
    return {
        "guid": str(entry.get("id") or "").strip(),
        "title": _text_of(entry, "title"),
        "url": link,
        "published": _when(entry.get("published_parsed"), entry.get("updated_parsed")),
        "author": str(entry.get("author") or ""),
        "description": _text_of(entry, "summary"),
        "content": content,
        "tags": tuple(str(t.get("term") or "") for t in entry.get("tags") or [] if t.get("term")),
    }


def _parse_json_feed(data: bytes, ref: FeedRef, now: datetime) -> ParsedFeed:
    try:
        document = json.loads(data.decode("utf-8-sig"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ParseError(f"invalid JSON Feed: {exc}") from exc
    except RecursionError as exc:  # 100,000 nested [ : no feed nests like that
        raise ParseError("invalid JSON Feed: nested too deeply") from exc
    if not isinstance(document, dict) or not str(document.get("version", "")).startswith(
        _JSON_FEED_VERSION
    ):
        raise ParseError("not a feed: JSON without a jsonfeed.org version")
    items = document.get("items")
    if not isinstance(items, list):
        raise ParseError("invalid JSON Feed: 'items' is not a list")
    # JSON Feed titles are plain text: escaped, so that showing them decodes nothing.
    title = html.escape(str(document.get("title") or ref.title or redact_url(ref.url)), quote=False)
    language = str(document.get("language") or "en")
    base = str(document.get("feed_url") or document.get("home_page_url") or ref.url)
    articles: list[Article] = []
    warnings = 0
    for item in items:
        if not isinstance(item, dict):
            warnings += 1
            continue
        try:
            articles.append(_article_from_json_item(item, ref, title, base, now, language))
        except (TypeError, ValueError) as exc:
            warnings += 1
            log.warning(
                "skipped an unreadable JSON Feed item",
                extra={"feed_url": ref.url, "step": "parse", "error": repr(exc)},
            )
    if not articles and warnings:
        raise ParseError("invalid JSON Feed: no readable items")
    warning = f"{warnings} unreadable item(s) skipped" if warnings else None
    return ParsedFeed(
        title=html_unescape_line(title),
        articles=articles,
        warning=warning,
        link=str(document.get("home_page_url") or ""),
    )


def _json_date(*candidates: Any) -> datetime | None:
    for candidate in candidates:
        if not isinstance(candidate, str) or not candidate:
            continue
        try:
            value = datetime.fromisoformat(candidate.replace("Z", "+00:00"))
        except ValueError:
            continue
        return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)
    return None


def _json_authors(item: Mapping[str, Any]) -> Iterable[str]:
    authors = item.get("authors")
    if isinstance(authors, list):
        yield from (str(a.get("name")) for a in authors if isinstance(a, dict) and a.get("name"))
    author = item.get("author")
    if isinstance(author, dict) and author.get("name"):
        yield str(author["name"])


def _article_from_json_item(
    item: Mapping[str, Any], ref: FeedRef, source: str, base: str, now: datetime, language: str
) -> Article:
    raw_url = item.get("url") or item.get("external_url") or ""
    link = urljoin(base, str(raw_url)) if raw_url else ""
    title = html.escape(str(item.get("title") or ""), quote=False)
    published = _json_date(item.get("date_published"), item.get("date_modified"))
    content = str(item.get("content_html") or "") or html.escape(
        str(item.get("content_text") or ""), quote=False
    )
    tags = item.get("tags")
    return Article(
        feed_id=ref.feed_id,
        feed_url=ref.url,
        source=html_unescape_line(source),
        entry_key=_entry_key(str(item.get("id") or ""), link, title, published),
        guid=str(item.get("id") or "").strip(),
        title=title,
        url=link,
        published=published,
        author=", ".join(_json_authors(item)),
        description=html.escape(str(item.get("summary") or ""), quote=False),
        content=content,
        tags=tuple(str(t) for t in tags) if isinstance(tags, list) else (),
        language=language,
        seen_at=now,
    )
