"""HTML to clean plain text, and sentence splitting; no network, no models to download."""

from __future__ import annotations

import html
import re

import sentencex
from lxml import etree
from lxml import html as lxml_html

from handlers.safe_text import printable

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


def _tidy(text: str) -> str:
    text = printable(text.replace("\r", " "))  # as before: a lone CR is a space
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
        etree.strip_elements(
            root, *_DROP, etree.Comment, etree.ProcessingInstruction, with_tail=False
        )
        for element in root.iter():
            if isinstance(element.tag, str) and element.tag.lower() in _BLOCK:
                element.tail = "\n" + (element.tail or "")
                if element.tag.lower() in {"br", "hr"}:
                    continue
                element.text = "\n" + (element.text or "")
        return _tidy(root.text_content())
    except (etree.ParserError, ValueError):
        # Markup lxml cannot hold (a NUL, a control character in a decoded entity): the
        # text without its tags, rather than an error that would lose the entry.
        return _tidy(html.unescape(re.sub(r"<[^>]*>", " ", markup)))


def one_line(text: str) -> str:
    """Collapse all whitespace to single spaces (titles, authors)."""
    return " ".join(text.split())


def sentence_language(language: str) -> str:
    """The sentencex language code for a feed's language tag ("en-US" -> "en")."""
    return (language or "en").split("-", 1)[0].split("_", 1)[0].lower() or "en"


def split_sentences(text: str, language: str = "en") -> list[str]:
    """Split text into sentences: at line breaks, then by sentencex's rules for the language.

    sentencex knows abbreviations ("Dr.", "B.B.", "z. B.") and falls back to a generic rule
    set for languages it has no rules for.
    """
    code = sentence_language(language)
    sentences: list[str] = []
    for block in text.split("\n"):
        if block.strip():
            sentences.extend(s.strip() for s in sentencex.segment(code, block) if s.strip())
    return sentences
