"""Text from strangers made safe to show: the one place every output path strips it.

Feed text, page text, HTTP headers and error messages all reach terminals, logs and chat.
`printable` removes what a terminal would obey instead of show (C0 and C1 control
characters: ESC sequences, OSC hyperlinks, CSI as U+009B); `neutral` also removes what
would make text read other than it is (bidi overrides and isolates, zero-width spaces),
for titles and sources; `link_text` keeps a title that looks like an address from
pointing somewhere else unseen.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

# C0 but tab and newline, DEL, and C1.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
# Bidi embeddings, overrides, isolates and marks; zero-width space, word joiner, BOM, MVS.
# Zero-width (non-)joiners stay: scripts and emoji need them.
_SPOOFING = re.compile(r"[\u061c\u200b\u200e\u200f\u202a-\u202e\u2060\u2066-\u2069\ufeff\u180e]")
_ADDRESS = re.compile(
    r"^(?:[a-z][a-z0-9+.-]*:/*)?(?:[^\s/@]+@)?((?:[a-z0-9\u00a1-\uffff-]+\.)+[a-z\u00a1-\uffff]{2,}|"
    r"\d{1,3}(?:\.\d{1,3}){3})\.?(?::\d+)?(?:[/?#]\S*)?$",
    re.IGNORECASE,
)


def printable(text: str) -> str:
    """`text` without control characters (newlines and tabs stay)."""
    return _CONTROL.sub("", text)


def neutral(text: str) -> str:
    """`printable(text)` without bidi controls and zero-width spaces (titles, sources)."""
    return _SPOOFING.sub("", printable(text))


def one_line(text: str) -> str:
    """`printable(text)` on one line: every run of whitespace, line breaks included, one
    space, so a title or summary cannot start a line that looks like the bot's own."""
    return " ".join(printable(text).split())


def link_text(text: str, url: str) -> str:
    """The text to show for a link: when it looks like an address on another host than the
    link's (a title "https://bank.example/login" linking elsewhere), the real host follows."""
    found = _ADDRESS.match(text.strip())
    if found is None:
        return text
    try:
        real = (urlsplit(url).hostname or "").lower()
    except ValueError:
        real = ""
    shown = found[1].lower().rstrip(".")
    if real and (real == shown or real.endswith("." + shown)):
        return text
    return f"{text} ({real or 'no link'})"
