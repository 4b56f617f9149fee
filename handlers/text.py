"""HTML to clean plain text, and sentence splitting; no network, no models to download."""

from __future__ import annotations

import html
import re

from lxml import etree
from lxml import html as lxml_html

# Elements whose text is never article text; removed with their content.
_DROP = (
    "script",
    "style",
    "noscript",
    "template",
    "iframe",
    "object",
    "embed",
    "svg",
    "math",
    "head",
    "title",
    "form",
    "button",
    "select",
    "textarea",
)
_BLOCK = frozenset(
    [
        "address",
        "article",
        "aside",
        "blockquote",
        "br",
        "dd",
        "div",
        "dl",
        "dt",
        "figcaption",
        "figure",
        "footer",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "header",
        "hr",
        "li",
        "main",
        "nav",
        "ol",
        "p",
        "pre",
        "section",
        "table",
        "tbody",
        "td",
        "tfoot",
        "th",
        "thead",
        "tr",
        "ul",
    ]
)
_MARKUP = re.compile(r"<[a-zA-Z!/?]|&(#\d+|#x[0-9a-fA-F]+|[a-zA-Z]+);")
_SPACES = re.compile(r"[ \t\r\f\v\u00a0\u200b]+")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def _tidy(text: str) -> str:
    text = _CONTROL.sub("", text)
    lines = (_SPACES.sub(" ", line).strip() for line in text.split("\n"))
    return "\n".join(line for line in lines if line)


def html_to_text(markup: str) -> str:
    """Return the visible text of an HTML fragment or document, one block per line.

    Scripts, styles and embedded objects are dropped with their content; entities are
    decoded once (so `&amp;lt;` stays the literal text `&lt;`); control characters go.
    Plain text passes through with only whitespace tidied.
    """
    if not markup:
        return ""
    if not _MARKUP.search(markup):
        return _tidy(markup)
    try:
        root = lxml_html.fragment_fromstring(markup, create_parent="div")
    except (etree.ParserError, ValueError):
        return _tidy(html.unescape(re.sub(r"<[^>]*>", " ", markup)))
    etree.strip_elements(root, *_DROP, etree.Comment, etree.ProcessingInstruction, with_tail=False)
    for element in root.iter():
        if isinstance(element.tag, str) and element.tag.lower() in _BLOCK:
            element.tail = "\n" + (element.tail or "")
            if element.tag.lower() in {"br", "hr"}:
                continue
            element.text = "\n" + (element.text or "")
    return _tidy(root.text_content())


def one_line(text: str) -> str:
    """Collapse all whitespace to single spaces (titles, authors)."""
    return " ".join(text.split())


_SENTENCE_END = re.compile(
    r"(?:(?<=[.!?…])|(?<=[.!?…][\"'”’)\]]))\s+(?=[\"'“‘(\[]?[A-Z0-9À-ÖØ-ÞА-ЯΑ-Ω])"
)


def split_sentences(text: str) -> list[str]:
    """Split text into sentences: at line breaks, then after ., !, ? before a capital."""
    sentences: list[str] = []
    for block in text.split("\n"):
        block = block.strip()
        if not block:
            continue
        sentences.extend(part.strip() for part in _SENTENCE_END.split(block) if part.strip())
    return sentences
