"""The fast parse path: RSS 2.0, RSS 1.0 and Atom read with lxml, the way feedparser reads them.

feedparser stays the reference and the fallback. It parses with a pure-Python SAX handler
and is the wall once feeds are real-size (about 1,300 entries/s here with its sanitizer
off). This path builds the tree with libxml2 and reads each entry's fields with feedparser's
own rules: the same elements, the same precedence between them (a description after a
content element, the shallowest title, the last link), the same text clean-up (stripped,
mis-decoded UTF-8 repaired, Windows-1252 code points mapped), the same link resolution and
feedparser's own date parser.

`read_fast` returns None for any document it does not read exactly as feedparser would, and
the caller then parses it with feedparser. The rules come from the differential test
(tests/bot/net/test_parse_differential.py), which reads every document of feeds-real and
feedparser's own corpus both ways:
- a document that is not well-formed, is not UTF-8, has a DOCTYPE or uses xml:base;
- a root that is not RSS 2.0/0.9x, RSS 1.0 (RDF) or Atom 1.0;
- an entry with an element feedparser gives a meaning this path does not reproduce
  (feedparser is asked: it has a handler for the element and the handler is not one
  this path emulates or knows to leave entry fields alone);
- a text field holding child elements (XHTML or inline markup) or base64 content.

The security guarantees are libxml2's with entity expansion, DTD loading and network access
off, and the default tree limits (`huge_tree` off); the entity pre-check in `parse` runs
before either path.
"""

from __future__ import annotations

import contextlib
import functools
import re
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass, field
from time import struct_time
from typing import Any

from feedparser.datetimes import _parse_date as feedparser_date  # the reference's own
from feedparser.mixin import _FeedParserMixin
from lxml import etree

ATOM = "http://www.w3.org/2005/Atom"
RDF = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
RSS10 = "http://purl.org/rss/1.0/"

# feedparser's namespace URI -> prefix table, and the element handlers it has: an element
# feedparser has no handler for only adds an unused key to the entry.
_PREFIXES: dict[str, str] = {uri.lower(): p for uri, p in _FeedParserMixin.namespaces.items()}
_HANDLED = {
    name.split("_", 2)[2] for name in dir(_FeedParserMixin) if name.startswith(("_start_", "_end_"))
}

_TITLE = {"title", "media_title"}
_DESCRIPTION = {"description", "media_description"}
_CONTENT = {"content", "content_encoded"}
_PUBLISHED = {"pubdate", "published", "issued", "dcterms_issued"}
_UPDATED = {"updated", "modified", "dc_date", "dcterms_modified", "lastbuilddate"}
_AUTHOR = {"author", "dc_creator", "dc_author"}
_CATEGORY = {"category", "dc_subject", "media_category", "keywords"}
_KEYWORDS = {"media_keywords", "itunes_keywords"}
# Handlers that never touch an entry's id, title, link, dates, author, summary, content
# or tags.
_INERT = {
    "enclosure", "media_content", "media_thumbnail", "media_group", "media_player",
    "media_rating", "media_restriction", "media_license", "media_credit", "dc_language",
    "dc_rights", "rights", "copyright", "language", "dc_publisher", "dcterms_valid",
    "expirationdate", "cc_license", "creativecommons_license", "creativeCommons_license",
    "contributor", "dc_contributor", "uri", "url", "homepage", "width", "height",
    "itunes_image", "itunes_email", "itunes_block", "itunes_explicit", "geom",
    "itunes_name", "itunes_owner",
    "georss_box", "georss_line", "georss_point", "georss_polygon", "georss_where",
    "georssgeom", "gml_exterior", "gml_linearring", "gml_linestring", "gml_point",
    "gml_polygon", "gml_pos", "gml_poslist", "where", "psc_chapter", "psc_chapters",
}  # fmt: skip
_EMULATED = _TITLE | _DESCRIPTION | _CONTENT | _PUBLISHED | _UPDATED | _AUTHOR | _CATEGORY
_EMULATED |= _KEYWORDS | {"summary", "link", "guid", "id", "name", "email", "itunes_category"}

_READ_WHOLE = _EMULATED - {"itunes_category"}

_URI_FIXER = re.compile(r"^([A-Za-z][A-Za-z0-9+-.]*://)(/*)(.*?)")
_DECLARED_ENCODING = re.compile(rb"^\s*<\?xml[^>]*encoding\s*=\s*[\"']([\w.:-]+)[\"']", re.I)
_UTF8_NAMES = {b"utf-8", b"utf8"}
_C1_CONTROLS = re.compile("[\x80-\x9f]")
_CP1252 = {
    code: bytes([code]).decode("cp1252")
    for code in range(128, 160)
    if code not in (0x81, 0x8D, 0x8F, 0x90, 0x9D)
}


class Fallback(Exception):
    """This document is one for feedparser: the reason is the message."""


@dataclass
class FastDocument:
    """A document read by the fast path: the feed's fields and its entries' fields, each
    entry in the dict form feedparser gives (`title`, `title_detail`, `summary`, …)."""

    feed: dict[str, Any]
    entries: list[dict[str, Any]] = field(default_factory=list)


def read_fast(data: bytes, base_url: str, content_type: str = "") -> FastDocument:
    """Read `data` the way feedparser would, or raise `Fallback` saying why not."""
    _check_document(data, content_type)
    parser = etree.XMLParser(
        resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False
    )
    try:
        root = etree.fromstring(data, parser)
    except etree.XMLSyntaxError as exc:
        raise Fallback(f"not well-formed: {exc}") from exc
    if root.getroottree().docinfo.doctype:
        raise Fallback("document type declaration")  # its entities are feedparser's to read
    if root.tag == "rss" and (channel := root.find("channel")) is not None:
        return _read(channel, channel.findall("item"), base_url, atom=False)
    if root.tag == f"{{{ATOM}}}feed":
        return _read(root, root.findall(f"{{{ATOM}}}entry"), base_url, atom=True)
    if root.tag == f"{{{RDF}}}RDF" and (channel := root.find(f"{{{RSS10}}}channel")) is not None:
        return _read(channel, root.findall(f"{{{RSS10}}}item"), base_url, atom=False)
    raise Fallback(f"root element {root.tag!r}")


def _check_document(data: bytes, content_type: str) -> None:
    head = data[:1024]
    if head.startswith((b"\xff\xfe", b"\xfe\xff")) or b"\x00" in head[:4]:
        raise Fallback("UTF-16 or UTF-32")
    declared = _DECLARED_ENCODING.match(head.removeprefix(b"\xef\xbb\xbf"))
    if declared and declared[1].lower() not in _UTF8_NAMES:
        raise Fallback("declared encoding " + declared[1].decode("ascii", "replace"))
    charset = _charset(content_type)
    if charset and charset not in {"utf-8", "utf8"}:
        raise Fallback("HTTP charset " + charset)
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise Fallback("bytes that are not UTF-8") from exc


def _charset(content_type: str) -> str:
    for part in content_type.split(";")[1:]:
        name, _, value = part.partition("=")
        if name.strip().lower() == "charset":
            return value.strip().strip("\"'").lower()
    return ""


def _handler(element: etree._Element) -> str:
    """feedparser's name for an element: its handler's, without `_start_`."""
    return _handler_name(element.tag, element.prefix)


@functools.lru_cache(maxsize=4096)
def _handler_name(tag: str, prefix_given: str | None) -> str:
    qname = etree.QName(tag)
    namespace = (qname.namespace or "").lower()
    if "backend.userland.com/rss" in namespace:
        namespace = "http://backend.userland.com/rss"
    prefix = _PREFIXES.get(namespace, prefix_given or "")
    local = qname.localname.lower()
    return f"{prefix.lower()}_{local}" if prefix else local


def _read(
    channel: etree._Element, items: list[etree._Element], base_url: str, *, atom: bool
) -> FastDocument:
    feed: dict[str, Any] = {}
    for child in channel:
        if not isinstance(child.tag, str):
            continue
        name = _handler(child)
        if name == "title" and "title" not in feed:
            text, kind = _text(child, "text/plain", atom=atom)
            feed["title"], feed["title_detail"] = text, {"type": kind}
        elif name == "link" and not atom and "link" not in feed:
            feed["link"] = _resolve(_base(base_url, child), _text(child, "text/html", atom=atom)[0])
        elif name == "link" and atom and child.get("href") is not None:
            rel, kind = child.get("rel", "alternate"), child.get("type", "text/html")
            if rel == "alternate" and _content_type(kind) in {"text/html", "application/xhtml+xml"}:
                feed["link"] = _resolve(_base(base_url, child), child.get("href", ""))
        elif name in {"language", "dc_language"}:
            feed["language"] = (child.text or "").strip()
    if not items:
        raise Fallback("no entries")  # feedparser says what the document is instead
    return FastDocument(feed, [_Entry(base_url, atom=atom).read(item) for item in items])


def _content_type(value: str) -> str:
    value = value.lower()
    if value in {"text", "plain"}:
        return "text/plain"
    if value == "html":
        return "text/html"
    if value == "xhtml":
        return "application/xhtml+xml"
    return value


def looks_like_html(text: str) -> bool:
    """feedparser's guess that an RSS element nominally plain text holds HTML."""
    return bool(_FeedParserMixin.looks_like_html(text))


def _clean(text: str) -> str:
    """feedparser's clean-up of every text: UTF-8 read as Latin-1 is repaired, and
    Windows-1252 code points take their meaning."""
    with contextlib.suppress(UnicodeEncodeError, UnicodeDecodeError):
        text = text.encode("iso-8859-1").decode("utf-8")
    return text.translate(_CP1252) if _C1_CONTROLS.search(text) else text


def _text(element: etree._Element, default_type: str, *, atom: bool) -> tuple[str, str]:
    """An element's text and content type, as feedparser's `pop` gives them."""
    kind = _content_type(element.get("type", default_type))
    if len(element):
        raise Fallback(f"markup inside <{element.tag}>")
    if element.get("mode") == "base64" or not (
        kind.startswith("text/") or kind.endswith(("+xml", "/xml"))
    ):
        raise Fallback(f"base64 content in <{element.tag}>")
    if kind == "application/xhtml+xml":
        raise Fallback(f"XHTML in <{element.tag}>")
    text = (element.text or "").strip()
    if not atom and kind == "text/plain" and looks_like_html(text):
        kind = "text/html"
    return _clean(text), kind


_XML_BASE = "{http://www.w3.org/XML/1998/namespace}base"


def _base(document_url: str, element: etree._Element) -> str:
    """The base URI in force at `element`: the document's, then each xml:base above it
    (and feedparser also reads a plain `base` attribute)."""
    chain = [element, *element.iterancestors()]
    base = document_url
    for node in reversed(chain):
        given = node.get(_XML_BASE, node.get("base"))
        if given:
            base = _resolve(base, given)
    return base


def _resolve(base: str, uri: str) -> str:
    uri = _URI_FIXER.sub(r"\1\3", uri)
    try:
        return urllib.parse.urljoin(base, uri)
    except ValueError:
        return ""


def _when(text: str) -> struct_time | None:
    return feedparser_date(text) if text else None


class _Entry:
    """One entry read element by element, in document order, with feedparser's rules."""

    def __init__(self, base_url: str, *, atom: bool) -> None:
        self.base = base_url
        self.atom = atom
        self.fields: dict[str, Any] = {}
        self.depths: dict[str, int] = {}
        self.title_depth = -1
        self.has_content = False
        self.authors: list[dict[str, str]] = []
        self.guid_is_link = False

    def read(self, item: etree._Element) -> dict[str, Any]:
        about = item.get(f"{{{RDF}}}about")
        if about:
            self.fields["id"] = about
        for element, depth in _walk(item):
            self._element(element, depth)
        return self.fields

    def _store(self, key: str, value: Any, depth: int) -> None:
        old = self.depths.get(key)
        if old is None or depth <= old:
            self.depths[key] = depth
            self.fields[key] = value

    def _element(self, element: etree._Element, depth: int) -> None:
        name = _handler(element)
        if name not in _EMULATED:
            if name in _HANDLED and name not in _INERT:
                raise Fallback(f"entry element <{element.tag}> (feedparser: {name})")
            return
        if name in _TITLE:
            text, kind = _text(element, "text/plain", atom=self.atom)
            if -1 < self.title_depth <= depth:
                return
            self._store("title", text, depth)
            self.fields["title_detail"] = {"type": kind}
            if text and name == "title":  # a media:title is only a fallback
                self.title_depth = depth
        elif name == "link":
            self._link(element, depth)
        elif name in {"guid", "id"}:
            self._guid(element, depth)
        elif name in _PUBLISHED | _UPDATED:
            key = "published" if name in _PUBLISHED else "updated"
            text = _clean((element.text or "").strip())
            self._store(key, text, depth)
            self.fields[f"{key}_parsed"] = _when(text)
        elif name in _AUTHOR:
            self._author(element, depth)
        elif name in {"name", "email"}:
            raise Fallback(f"<{element.tag}> outside an author")
        elif name in _CATEGORY:
            self._category(element)
        elif name in _KEYWORDS:
            for term in _text(element, "text/plain", atom=True)[0].split(","):
                self._tag(term.strip())
        elif name == "itunes_category":
            self._tag(element.get("text") or "")
        elif name in _DESCRIPTION or name == "summary":
            default = "text/html" if name in _DESCRIPTION else "text/plain"
            if "summary" in self.fields and not self.has_content:
                self._content(element, "text/plain")
            else:
                text, kind = _text(element, default, atom=self.atom)
                self._store("summary", text, depth)
                self.fields["summary_detail"] = {"type": kind}
        elif name in _CONTENT:
            self._content(element, "text/html" if name == "content_encoded" else "text/plain")

    def _link(self, element: etree._Element, depth: int) -> None:
        href = element.get("href")
        if href is None:
            text, _ = _text(element, "text/html", atom=self.atom)
            text = text.replace("&amp;", "&")
            text = re.sub("&([A-Za-z0-9_]+);", r"&\g<1>", text)
            self.fields["link"] = _resolve(_base(self.base, element), text) if text else text
            return
        rel = element.get("rel", "alternate")
        kind = element.get("type", "application/atom+xml" if rel == "self" else "text/html")
        if rel == "alternate" and _content_type(kind) in {"text/html", "application/xhtml+xml"}:
            self.fields["link"] = _resolve(_base(self.base, element), href)

    def _guid(self, element: etree._Element, depth: int) -> None:
        permalink = next(
            (v for k, v in element.attrib.items() if str(k).lower() == "ispermalink"), "true"
        )
        self.guid_is_link = permalink == "true"
        text, _ = _text(element, "text/plain", atom=True)
        if text and self.guid_is_link:
            text = _resolve(_base(self.base, element), text)
        self._store("id", text, depth)
        if self.guid_is_link:
            self.fields.setdefault("link", text)

    def _author(self, element: etree._Element, depth: int) -> None:
        detail: dict[str, str] = {}
        for child in element:
            if not isinstance(child.tag, str):
                continue
            name = _handler(child)
            if name in {"name", "email"}:
                if len(child):
                    raise Fallback("markup inside an author's name")
                detail[name] = _clean((child.text or "").strip())
            elif name in _HANDLED and name not in _INERT:
                raise Fallback(f"author element <{child.tag}>")
        own = "" if len(element) else _clean((element.text or "").strip())
        if len(element) and (element.text or "").strip():
            raise Fallback("an author with both text and elements")
        self._store("author", own, depth)
        if detail:
            who, address = detail.get("name"), detail.get("email")
            if who and address:
                self.fields["author"] = f"{who} ({address})"
            elif who or address:
                self.fields["author"] = who or address

    def _category(self, element: etree._Element) -> None:
        term = element.get("term")
        if term is None:
            if len(element):
                raise Fallback("markup inside a category")
            term = _clean((element.text or "").strip())
        self._tag(term)

    def _tag(self, term: str) -> None:
        if term:
            self.fields.setdefault("tags", []).append({"term": term})

    def _content(self, element: etree._Element, default: str) -> None:
        self.has_content = True
        if element.get("src"):
            raise Fallback("content by reference")
        text, kind = _text(element, default, atom=self.atom)
        self.fields.setdefault("content", []).append({"type": kind, "value": text})
        if kind in {"text/plain", "text/html", "application/xhtml+xml"}:
            self.fields.setdefault("summary", text)


def _walk(item: etree._Element) -> Iterator[tuple[etree._Element, int]]:
    """The elements inside an entry in document order with their depth, not descending
    into the ones read whole (their children make the entry a fallback there)."""
    stack = [(child, 1) for child in reversed(item)]
    while stack:
        element, depth = stack.pop()
        if not isinstance(element.tag, str):
            continue
        yield element, depth
        if _handler(element) in _READ_WHOLE:
            continue
        stack.extend((child, depth + 1) for child in reversed(element))
